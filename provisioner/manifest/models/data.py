"""The data plane: `database` (LiteFS), `storage` (SeaweedFS) and `search` (Weaviate)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from provisioner.manifest.models.base import Model
from provisioner.manifest.models.services import IMAGE, Resources
from provisioner.manifest.models.types import ByteQuantity, DnsLabel, SecretRef

REPLICATION = r"^[0-9]{3}$"
WEAVIATE_MODULE = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class Consul(Model):
    """Consul lease settings for LiteFS primary election."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] = Field(description="Consul HTTP address.", examples=["http://consul:8500"])
    key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]+$")] | None = Field(
        None, description="Lease key; must be unique per cluster. Defaults to litefs/<project>-<environment>."
    )
    ttl: Annotated[str, Field(pattern=r"^[0-9]+s$")] = Field("10s", description="Lease TTL; Consul's minimum is 10s.")


class Database(Model):
    """LiteFS: replicated SQLite with one primary and read replicas per region."""

    engine: Literal["litefs"] = Field("litefs", description="Database engine. Only LiteFS today.")
    image: Annotated[str, Field(pattern=IMAGE)] | None = Field(
        None, description="Image override (repository with :tag or @sha256 digest); defaults to <registry>/litefs:<release>."
    )
    primary_region: DnsLabel | None = Field(
        None, description="Region holding the primary; defaults to the project's first region.", examples=["fra"]
    )
    candidates: int = Field(
        1, ge=1, le=9, description="Nodes in the primary region that may hold the lease (more than 1 needs the consul lease)."
    )
    replicas: dict[DnsLabel, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="Read replicas per region (region -> count).", examples=[{"iad": 2}]
    )
    lease: Literal["static", "consul"] = Field("static", description="Primary election: a fixed primary, or a Consul lease.")
    consul: Consul | None = Field(None, description="Consul settings; required when lease is consul.")
    volume: ByteQuantity = Field("10Gi", description="Persistent volume per LiteFS node.")
    storage_class: DnsLabel | None = Field(None, description="Kubernetes StorageClass for the volumes; the cluster default when unset.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory per LiteFS node.")

    @model_validator(mode="after")
    def _lease(self) -> Database:
        if self.lease == "consul" and self.consul is None:
            raise PydanticCustomError(
                "koyalite",
                "lease consul needs a consul section",
                {"hint": "add `consul: {url: http://consul:8500}` or use `lease: static`"},
            )
        if self.lease == "static" and self.candidates > 1:
            raise PydanticCustomError(
                "koyalite",
                "a static lease has exactly one candidate, not {n}",
                {"n": self.candidates, "hint": "set `candidates: 1`, or `lease: consul` for failover"},
            )
        return self


class Filer(Model):
    """SeaweedFS filer: the path namespace and the S3 gateway's backend."""

    replicas: int = Field(1, ge=1, le=100, description="Filer replicas.")
    volume: ByteQuantity = Field("10Gi", description="Persistent volume for the filer's metadata store.")


class Storage(Model):
    """SeaweedFS object storage: masters, volume servers, filer and S3 gateway."""

    image: Annotated[str, Field(pattern=IMAGE)] | None = Field(
        None, description="Image override (repository with :tag or @sha256 digest); defaults to <registry>/seaweedfs:<seaweedfs version>."
    )
    masters: int = Field(1, ge=1, le=9, description="Master servers (Raft); an odd number.")
    volume_servers: int = Field(1, ge=1, le=1000, description="Volume servers, spread over the regions (data centres) and racks.")
    racks: int = Field(1, ge=1, le=100, description="Racks per region the volume servers are spread over.")
    filer: Filer = Field(default_factory=Filer, description="Filer settings.")
    s3: bool = Field(True, description="Run the S3 gateway.")
    replication: Annotated[str, Field(pattern=REPLICATION)] = Field(
        "000",
        description="Replica placement XYZ: copies in X other regions, Y other racks, Z other servers on the same rack.",
        examples=["001"],
    )
    volume: ByteQuantity = Field("100Gi", description="Persistent volume per volume server.")
    master_volume: ByteQuantity = Field("1Gi", description="Persistent volume per master (Raft log and topology).")
    storage_class: DnsLabel | None = Field(None, description="Kubernetes StorageClass for the volumes; the cluster default when unset.")
    resources: Resources = Field(
        default_factory=Resources,
        description="CPU and memory of each SeaweedFS container: masters, volume servers, filers and the S3 gateway.",
    )


class Search(Model):
    """Weaviate vector search."""

    image: Annotated[str, Field(pattern=IMAGE)] | None = Field(
        None, description="Image override (repository with :tag or @sha256 digest); defaults to <registry>/weaviate:<weaviate version>."
    )
    replicas: int = Field(1, ge=1, le=100, description="Weaviate nodes.")
    shards: int = Field(1, ge=1, le=1000, description="Default shard count for new collections.")
    replication_factor: int = Field(1, ge=1, le=100, description="Default copies of each shard; at most `replicas`.")
    modules: list[Annotated[str, Field(pattern=WEAVIATE_MODULE)]] = Field(
        default_factory=list, description="Weaviate modules to enable.", examples=[["backup-s3"]]
    )
    volume: ByteQuantity = Field("32Gi", description="Persistent volume per node.")
    storage_class: DnsLabel | None = Field(None, description="Kubernetes StorageClass for the volumes; the cluster default when unset.")
    api_key_secret: SecretRef = Field("weaviate_api_key", description="Secret holding Weaviate's API key; anonymous access is always off.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory per node.")
