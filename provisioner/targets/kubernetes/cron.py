"""Cron jobs: one CronJob each, POSTing to its function (through the runtime) or its URL."""

from __future__ import annotations

from provisioner.plan.model import CronTask
from provisioner.targets.kubernetes import REGISTRY
from provisioner.targets.kubernetes.common import Context, Obj, container_security, metadata, pod_security, tmp_volume

HISTORY = 3


@REGISTRY.register(CronTask)
def translate(part: CronTask, ctx: Context) -> list[Obj]:
    tmp, tmp_mount = tmp_volume()
    labels = metadata(ctx, part.name, part)["labels"]
    container = {
        "name": "call",
        "image": str(part.image),
        "imagePullPolicy": "IfNotPresent",
        # `command` names the program: `args` alone would replace the image's CMD and leave its entrypoint nothing
        # to run (found on the node tier, where every job failed with `exec: illegal option --`)
        "command": ["koyalite-cron"],
        "args": ["--method", "POST", "--url", part.url, "--timeout", f"{part.deadline_s}s"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        "securityContext": container_security(),
        "volumeMounts": [tmp_mount],
    }
    return [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": metadata(ctx, part.name, part),
            "spec": {
                "schedule": part.schedule,
                "timeZone": part.timezone,
                # Forbid: a slow run is never doubled by the next slot; a missed slot is skipped after the deadline.
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": part.deadline_s,
                "successfulJobsHistoryLimit": HISTORY,
                "failedJobsHistoryLimit": HISTORY,
                "suspend": part.suspend,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": part.deadline_s,
                        "ttlSecondsAfterFinished": 86400,
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {
                                "restartPolicy": "Never",
                                "automountServiceAccountToken": False,
                                "securityContext": pod_security(),
                                "containers": [container],
                                "volumes": [tmp],
                            },
                        },
                    },
                },
            },
        }
    ]
