"""`koyalite init`: the files of a new project that validates as it stands."""

from __future__ import annotations

MANIFEST = """\
# yaml-language-server: $schema=./schema/koyalite.schema.json
apiVersion: koyalite.dev/v1
project:
  name: {name}
  domain: {name}.example.com
  regions: [local]
  release: "1.4.0"
features:
  edge_functions: true
  search: true
  storage: true
services:
  auth:
    secrets: {{JWT_SECRET: jwt_secret}}
functions:
  items:
    - name: hello
      entrypoint: functions/hello/index.ts
      routes: [/hello]
cron:
  - name: hello-hourly
    schedule: "@hourly"
    function: hello
environments:
  dev:
    target: docker
  prod:
    target: kubernetes
    protect: true
    kubernetes:
      ingress: {{class: nginx, tls: {{issuer: letsencrypt}}}}
    services:
      api: {{replicas: 2, resources: {{limits: {{cpu: "1", memory: 512Mi}}}}}}
      auth: {{replicas: 2, resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}}}
      project: {{replicas: 2, resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}}}
      rls: {{replicas: 2, resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}}}
      search: {{replicas: 2, resources: {{limits: {{cpu: 500m, memory: 256Mi}}}}}}
      email: {{replicas: 2, resources: {{limits: {{cpu: 250m, memory: 128Mi}}}}}}
      studio: {{replicas: 2, resources: {{limits: {{cpu: 250m, memory: 256Mi}}}}}}
    functions:
      runtime: {{replicas: 2, resources: {{limits: {{cpu: "1", memory: 1Gi}}}}}}
    database:
      resources: {{limits: {{cpu: "1", memory: 1Gi}}}}
    storage:
      resources: {{limits: {{cpu: "1", memory: 1Gi}}}}
    search:
      resources: {{limits: {{cpu: "2", memory: 4Gi}}}}
"""

FUNCTION = """\
// An edge function: the runtime calls the default export's fetch for every request on its routes.
export default {
  fetch(request: Request): Response {
    const name = new URL(request.url).searchParams.get("name") ?? "world";
    return Response.json({ message: `hello, ${name}` });
  },
};
"""

GITIGNORE = """\
.koyalite/
# dev's generated secrets, encrypted with this machine's passphrase (.koyalite/dev.passphrase): local state
stacks/Pulumi.dev.yaml
"""


def stack_config(environment: str) -> str:
    """A Pulumi stack config file for one environment: the manifest it deploys."""
    return f"config:\n  koyalite:manifest: ../koyalite.yaml\n  koyalite:environment: {environment}\n"
