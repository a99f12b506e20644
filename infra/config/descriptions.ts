/**
 * One sentence per config key for docs/configuration.md. `npm run docs:check` fails when a schema
 * key has no entry here or an entry names a key the schema no longer has.
 */
import { GCE_MACHINE_TYPES_TEXT, GCP, HETZNER } from "../prices";

export const SECTION_DESCRIPTIONS: Record<string, string> = {
  namespace:
    "The Kubernetes namespace the fleet lives in (labelled for Pod Security Standards `restricted`).",
  cluster:
    "Where the fleet runs: an existing cluster from a kubeconfig, a GKE cluster, or a Hetzner Cloud K3s cluster. The `provider` key chooses the variant.",
  autoscaling:
    "`fixed`: a fixed replica count per agent and no HPA. `hpa`: an autoscaling/v2 HPA per agent on backlog (External metric) and CPU, with the behaviour below; the workloads then carry no `replicas` field.",
  agentDefaults: "Overrides applied to every agent before its own `agents.<agent>` overrides (same keys).",
  agents:
    "Per-agent overrides of the capacity plan. Anything not set keeps the catalog default (see README: the 12 agents).",
  queue: "The Redis task queue: in-cluster (a StatefulSet with a PVC) or a managed endpoint.",
  models:
    "Shared model files for model-backed agents: one copy on a ReadOnlyMany/ReadWriteMany volume, filled by a checksum-verifying loader Job, served by an inference sidecar.",
  mesh: "Istio routing: header routing by `task-type`, retries, circuit breaking and a canary.",
  observability:
    "Prometheus scraping, the metrics adapter that feeds the HPAs, alerts, dashboards, tracing and log level.",
  secrets:
    "Where LLM API keys come from: Pulumi config secrets, or AWS Secrets Manager through the External Secrets Operator.",
  images: "The agent and router images: pre-built references, or built and pushed by `pulumi up`.",
  router: "The task router Deployment (`task-router`), the HTTP front door for submitting tasks.",
  runtime: "Settings of the agent runtime in every pod.",
};

const taints = {
  taints: "Taints on the pool's nodes; agents scheduled there get matching tolerations.",
  "taints[].key": "Taint key.",
  "taints[].value": "Taint value.",
  "taints[].effect": "Taint effect.",
};
const resources = (what: string) => ({
  resources: `Resources of ${what}.`,
  "resources.requests": `Requests of ${what} (used for scheduling and the capacity report).`,
  "resources.requests.cpu": "CPU request, a Kubernetes quantity (`500m`, `2`).",
  "resources.requests.memory": "Memory request, a Kubernetes quantity (`512Mi`, `8Gi`).",
  "resources.limits": `Limits of ${what}; each must be >= its request.`,
  "resources.limits.cpu": "CPU limit, a Kubernetes quantity.",
  "resources.limits.memory": "Memory limit, a Kubernetes quantity.",
});
const agentKeys = {
  minReplicas: "Fewest pods under the HPA (>= 1 in `hpa` mode).",
  maxReplicas: "Most pods under the HPA; must be >= minReplicas and fit the node pool's maxNodes.",
  replicas: "Pods in `autoscaling.mode: fixed` (default `autoscaling.replicas`); an error under `hpa`.",
  backlogPerPod: "HPA External metric target: ready + in-flight tasks per pod before another pod is added.",
  cpuPercent: "HPA CPU utilisation target in percent of requests; `null` turns the CPU metric off.",
  gpuPercent:
    "Accelerator utilisation target in percent (reported by the plan for GPU pools); `null` turns it off.",
  ...resources("the agent container"),
  concurrency: "Tasks one pod works on at once (the runtime's CONCURRENCY).",
  taskTimeoutSeconds:
    "Longest one task may run, in seconds (a task may ask for less, never more). The pod's grace period is this plus 10 s (a drain finishes in-flight tasks), and the mesh's sync-path timeout follows it.",
  env: "Extra non-secret environment variables for the agent container.",
};
const prefixed = (prefix: string, entries: Record<string, string>) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [`${prefix}.${k}`, v]));

export const KEY_DESCRIPTIONS: Record<string, string> = {
  namespace: "Namespace name (a DNS-1123 label).",

  cluster: "The cluster backend.",
  "cluster.provider": "Which backend: `existing`, `gke` or `hetzner-k3s`.",
  "cluster.kubeconfig": "Path to the kubeconfig (`~` expands); default the ambient kubeconfig.",
  "cluster.context": "kubeconfig context; default the file's current context.",
  "cluster.nodePools":
    "Node pools: scheduling per pool on an existing cluster; the pools to create on GKE and Hetzner.",
  "cluster.nodePools.<pool>": "One node pool. Agents pick a pool with `agents.<agent>.nodePool`.",
  "cluster.nodePools.<pool>.nodeSelector": "Node labels that select the pool's nodes on an existing cluster.",
  ...prefixed("cluster.nodePools.<pool>", taints),
  "cluster.project": "GCP project id.",
  "cluster.region":
    "GCP region; the cluster is regional unless `zone` is set. One of the price table's regions (`infra/prices.ts`: " +
    `${Object.keys(GCP.regions).join(", ")}).`,
  "cluster.zone":
    "Make the cluster zonal in this zone (cheaper control plane, no zone redundancy). A zone of `region` as the price table lists them.",
  "cluster.nodeLocations":
    "Zones the node pools span (default: the region's zones chosen by GKE); zones of `region` as the price table lists them.",
  "cluster.releaseChannel": "GKE release channel.",
  "cluster.network":
    "Network ranges (GKE: VPC-native subnet and secondary ranges; Hetzner: private network and subnet).",
  "cluster.network.nodesCidr": "Primary range of the node subnet.",
  "cluster.network.podsCidr": "Secondary range for pods.",
  "cluster.network.servicesCidr": "Secondary range for Services.",
  "cluster.network.masterCidr": "/28 range of the private control-plane endpoint.",
  "cluster.masterAuthorizedNetworks": "Networks allowed to reach the control plane (at least one).",
  "cluster.masterAuthorizedNetworks[].name": "Display name of the network.",
  "cluster.masterAuthorizedNetworks[].cidr": "The network's IPv4 CIDR.",
  "cluster.nodePools.<pool>.machineType":
    "Compute Engine machine type of the pool's nodes: a predefined type of the price table, so capacity and cost " +
    `can be checked (\`GCP.machineTypes\`: ${GCE_MACHINE_TYPES_TEXT}).`,
  "cluster.nodePools.<pool>.minNodes": "Fewest nodes (per zone on GKE) the pool autoscaler keeps.",
  "cluster.nodePools.<pool>.maxNodes": "Most nodes the pool autoscaler may add.",
  "cluster.nodePools.<pool>.diskSizeGb": "Boot disk size in GB.",
  "cluster.nodePools.<pool>.spot": "Use Spot VMs for the pool.",
  "cluster.nodePools.<pool>.labels": "Extra node labels (every pool also gets `agent-fleet.io/pool=<pool>`).",
  "cluster.nodePools.<pool>.gpu": "Attach GPUs to every node of the pool.",
  "cluster.nodePools.<pool>.gpu.type": "Accelerator type, e.g. `nvidia-l4`.",
  "cluster.nodePools.<pool>.gpu.count": "GPUs per node.",
  "cluster.location":
    "Hetzner location of the servers: one the price table prices (`HETZNER.locations`: " +
    `${Object.keys(HETZNER.locations).join(", ")}).`,
  "cluster.networkZone":
    "Hetzner network zone of the private subnet: the location's, as the price table lists it.",
  "cluster.k3sVersion": "Pinned K3s release installed by cloud-init.",
  "cluster.image": "Server OS image.",
  "cluster.network.cidr": "Private network range.",
  "cluster.network.subnetCidr": "Subnet the servers attach to.",
  "cluster.controlPlane": "Control-plane servers.",
  "cluster.controlPlane.count": "1, or 3 for embedded-etcd high availability.",
  "cluster.controlPlane.serverType":
    "Hetzner server type of the control-plane servers, one of the price table's (`HETZNER.serverTypes`).",
  "cluster.firewall": "Firewall of every server: nothing is open to the internet beyond these.",
  "cluster.firewall.apiCidrs": "CIDRs allowed to reach the Kubernetes API (6443).",
  "cluster.firewall.sshCidrs": "CIDRs allowed to reach SSH (22); empty closes SSH.",
  "cluster.sshKeys": "Names of Hetzner SSH keys installed on the servers.",
  "cluster.nodePools.<pool>.serverType":
    "Hetzner server type of the pool's workers, one of the price table's (`HETZNER.serverTypes`).",

  autoscaling: "How agents scale.",
  "autoscaling.mode": "`fixed` or `hpa`.",
  "autoscaling.replicas": "Pods per agent in fixed mode.",
  "autoscaling.behavior": "HPA behaviour shared by every agent.",
  "autoscaling.behavior.scaleUp": "Scale-up policy.",
  "autoscaling.behavior.scaleUp.stabilizationWindowSeconds":
    "Seconds of recommendations the HPA considers before scaling up.",
  "autoscaling.behavior.scaleUp.percent": "Most pods added per period, in percent of the current count.",
  "autoscaling.behavior.scaleUp.periodSeconds": "Length of the scale-up period.",
  "autoscaling.behavior.scaleDown": "Scale-down policy.",
  "autoscaling.behavior.scaleDown.stabilizationWindowSeconds":
    "Seconds of recommendations the HPA considers before scaling down.",
  "autoscaling.behavior.scaleDown.pods": "Most pods removed per period.",
  "autoscaling.behavior.scaleDown.periodSeconds": "Length of the scale-down period.",

  agentDefaults: "Overrides for every agent.",
  ...prefixed("agentDefaults", agentKeys),
  agents: "Overrides per agent.",
  "agents.<agent>": "One agent's overrides.",
  "agents.<agent>.enabled": "Deploy this agent (default true).",
  ...prefixed("agents.<agent>", agentKeys),
  "agents.<agent>.workload": "Workload kind (StatefulSet gives stable pod names for local-model agents).",
  "agents.<agent>.nodePool": "Node pool the pods run on.",
  "agents.<agent>.model": "The agent's model: a hosted API or a local model file.",
  "agents.<agent>.model.kind":
    "`api` (hosted or your own OpenAI-compatible endpoint) or `local` (a file on the shared volume).",
  "agents.<agent>.model.provider": "API flavour: `openai` (chat completions) or `anthropic` (Messages).",
  "agents.<agent>.model.name": "Model name sent to the API.",
  "agents.<agent>.model.baseUrl": "Your own OpenAI-compatible endpoint; such an agent needs no API key.",
  "agents.<agent>.model.file": "Name of an entry in `models.files`, served by the inference sidecar.",

  queue: "The task queue.",
  "queue.mode": "`in-cluster` or `managed`.",
  "queue.persistence":
    "`aof-always` (fsync every write: an acknowledged task survives a crash), `aof-everysec` (up to ~1 s of writes lost on a crash), `none`.",
  "queue.image": "Redis image (pin by digest in production).",
  "queue.storage": "The Redis PVC.",
  "queue.storage.size": "PVC size.",
  "queue.storage.storageClass": "StorageClass of the PVC (default: the cluster's default class).",
  ...prefixed("queue", resources("the Redis container")),
  "queue.url": "redis:// or rediss:// URL of the managed Redis, without the password.",
  "queue.passwordKey": "Secret config key holding the managed Redis password.",

  models: "Shared model files.",
  "models.backend": "Where the shared volume comes from; required when an enabled agent uses a local model.",
  "models.backend.kind":
    "`storage-class` (any cluster), `filestore`, `hyperdisk-ml`, `gcs-fuse` (GKE), `hcloud-nfs` (Hetzner).",
  "models.backend.storageClass":
    "A StorageClass whose volumes can be shared across nodes (NFS, CephFS, ...).",
  "models.backend.accessMode": "Access mode of the shared PVC.",
  "models.backend.tier": "Filestore tier.",
  "models.backend.throughputMibps": "Provisioned throughput of the Hyperdisk ML volume.",
  "models.backend.bucket": "GCS bucket mounted through the GCS FUSE CSI driver.",
  "models.size": "Size of the shared volume.",
  "models.files": "Model files the loader Job downloads and verifies.",
  "models.files[].name": "File name on the volume (what `agents.<agent>.model.file` refers to).",
  "models.files[].url": "http(s) URL to download from.",
  "models.files[].sha256": "Expected sha256 (quoted); the loader refuses a file that does not match.",
  "models.loaderImage": "Image of the loader Job, pinned by digest (needs a shell, curl and sha256sum).",
  "models.sidecar": "The OpenAI-compatible inference sidecar of model-backed agents.",
  "models.sidecar.image": "Sidecar image pinned by digest (e.g. llama.cpp's server).",
  "models.sidecar.port": "Port the sidecar serves on localhost.",
  "models.sidecar.contextSize": "Context window in tokens.",
  ...prefixed("models.sidecar", resources("the inference sidecar")),

  mesh: "Service mesh.",
  "mesh.istio": "Istio settings.",
  "mesh.istio.enabled":
    "Sidecar injection for the namespace, mTLS STRICT, AuthorizationPolicies, the VirtualService and DestinationRules.",
  "mesh.istio.install":
    "Install Istio with Helm (base, istiod, the CNI node agent so injected pods pass Pod Security `restricted`, and the ingress gateway when `ingress` is set); false when the cluster already runs Istio (it must run the CNI agent).",
  "mesh.istio.cni": "Host folders of the Istio CNI node agent.",
  "mesh.istio.cni.binDir": "CNI binary folder on the nodes (default: the cluster provider's).",
  "mesh.istio.cni.confDir": "CNI config folder on the nodes (default: the cluster provider's).",
  "mesh.istio.ingress": "Expose the router outside the cluster through an Istio ingress gateway, with TLS.",
  "mesh.istio.ingress.host": "The router's public host name.",
  "mesh.istio.ingress.tls":
    "Where the certificate comes from: `{ secretName }`, a TLS Secret (kubernetes.io/tls) in `istio-ingress`; or `{ issuer: { name, kind } }`, cert-manager issues it (`kind`: `ClusterIssuer`, the default, or `Issuer`; cert-manager must be installed).",
  "mesh.istio.routerClientNamespaces":
    "Namespaces whose workloads may call the router inside the mesh; the ingress gateway always may.",
  "mesh.istio.revision": "Istio revision label for injection (`istio.io/rev`).",
  "mesh.istio.retries": "Retry policy of the sync path; timeouts follow each agent's taskTimeoutSeconds.",
  "mesh.istio.retries.attempts": "Retries per request.",
  "mesh.istio.retries.retryOn":
    "Retry conditions, only where nothing ran: `connect-failure`, `refused-stream`, `429` (the agent was saturated before starting).",
  "mesh.istio.circuitBreaker": "Outlier detection and connection-pool limits per agent Service.",
  "mesh.istio.circuitBreaker.consecutive5xxErrors": "5xx responses in a row that eject a pod.",
  "mesh.istio.circuitBreaker.interval": "How often pods are checked for ejection.",
  "mesh.istio.circuitBreaker.baseEjectionTime": "Minimum ejection time.",
  "mesh.istio.circuitBreaker.maxEjectionPercent": "Most pods of a Service ejected at once.",
  "mesh.istio.circuitBreaker.maxPendingRequests": "HTTP requests queued per pod before the breaker opens.",
  "mesh.istio.circuitBreaker.maxRequestsPerConnection": "Requests per upstream connection.",
  "mesh.istio.canary":
    "A canary of one agent: a second workload with another image, weighted on the sync path.",
  "mesh.istio.canary.agent": "The agent to canary (must be enabled).",
  "mesh.istio.canary.weight": "Percent of sync traffic sent to the canary, 0..100.",
  "mesh.istio.canary.image":
    "Image of the canary workload, by digest; omit with `images.source: build` to build it with the others.",

  observability: "Metrics and logs.",
  "observability.prometheus": "Prometheus.",
  "observability.prometheus.install":
    "Install Prometheus with Helm (false: your Prometheus scrapes the annotated pods).",
  "observability.prometheus.namespace":
    "Namespace Prometheus runs in (allowed by the NetworkPolicies to scrape).",
  "observability.prometheus.scrapeInterval": "Scrape interval.",
  "observability.prometheus.chart":
    "The chart `install` installs: `prometheus` (alerts as its rule files) or `kube-prometheus-stack` (the Prometheus Operator, Alertmanager, kube-state-metrics).",
  "observability.prometheus.operator":
    "The cluster has the Prometheus Operator's CRDs (an existing kube-prometheus-stack): alerts become PrometheusRule objects, scraping ServiceMonitor/PodMonitor objects. Default: `chart` is `kube-prometheus-stack`.",
  "observability.alerts":
    "Alert rules and their thresholds (docs/operations.md has a runbook section per alert).",
  "observability.alerts.enabled": "Render the alert rules.",
  "observability.alerts.runbookUrl": "Address of docs/operations.md; each alert links to its section there.",
  "observability.alerts.backlogFor":
    "How long an agent's backlog must stay above its ceiling (backlogPerPod x maxReplicas; x replicas in fixed mode) before AgentBacklogHigh fires.",
  "observability.alerts.sla": "How long the oldest ready task of a priority band may wait (the plan's SLAs).",
  "observability.alerts.sla.P0": "P0 (immediate).",
  "observability.alerts.sla.P1": "P1.",
  "observability.alerts.sla.P2": "P2.",
  "observability.alerts.errorRatio":
    "Share of an agent's task deliveries that fail or dead-letter before AgentTaskErrorRate fires.",
  "observability.alerts.errorRatioFor": "How long the error ratio must hold.",
  "observability.alerts.hpaAtMaxFor": "How long an HPA may sit at maxReplicas before AgentHPAAtMax fires.",
  "observability.alerts.restarts": "Container restarts that make AgentPodRestarting fire.",
  "observability.alerts.restarts.count": "Restarts within `window`.",
  "observability.alerts.restarts.window": "The window.",
  "observability.alerts.redisMemoryRatio":
    "Redis memory use over its container limit that makes RedisMemoryHigh fire.",
  "observability.alerts.router5xxRatio": "Share of router responses that are 5xx before RouterErrors fires.",
  "observability.dashboards": "The three Grafana dashboards (agent performance, resources, business/SLA).",
  "observability.dashboards.enabled": 'Create the dashboard ConfigMaps (label `grafana_dashboard: "1"`).',
  "observability.dashboards.grafana": "Grafana.",
  "observability.dashboards.grafana.install":
    "Install Grafana with Helm, with the dashboard sidecar and Prometheus as its data source.",
  "observability.tracing": "OpenTelemetry traces: router submit, queue wait, worker, model call.",
  "observability.tracing.enabled": "Export traces over OTLP/HTTP (off: no tracer is created at all).",
  "observability.tracing.endpoint": "OTLP/HTTP endpoint; default the collector `collector.install` creates.",
  "observability.tracing.sampleRatio": "Share of new traces sampled (parent-based).",
  "observability.tracing.collector": "OpenTelemetry Collector.",
  "observability.tracing.collector.install": "Install an OpenTelemetry Collector with Helm.",
  "observability.tracing.collector.exportTo":
    "OTLP/HTTP address of your tracing backend (Jaeger, Tempo, a vendor) the collector forwards to; unset: the collector logs spans.",
  "observability.adapter": "prometheus-adapter, which serves `agent_queue_backlog` as an External metric.",
  "observability.adapter.install": "Install prometheus-adapter with Helm.",
  "observability.logLevel": "Runtime log level.",

  secrets: "API key source.",
  "secrets.backend": "`pulumi` or `aws-secrets-manager`.",
  "secrets.apiKeys":
    "Providers whose API key the agents need (`pulumi`: set `<provider>ApiKey` with --secret).",
  "secrets.region": "AWS region of Secrets Manager.",
  "secrets.secretPrefix": "Name prefix of the secrets in Secrets Manager.",
  "secrets.refreshInterval": "How often the External Secrets Operator re-reads them.",
  "secrets.installOperator": "Install the External Secrets Operator with Helm.",

  images: "Agent and router images.",
  "images.source": "`prebuilt` or `build`.",
  "images.requireDigests":
    "Every image the stack runs must be pinned by digest (the fleet's, the canary, Redis, the model loader and sidecar).",
  "images.repository":
    "Repository prefix: images are `<repository>/agent-<agent>:<tag>` and `<repository>/router:<tag>`.",
  "images.tag": "Image tag.",
  "images.digests": "Digests per image (`python`, ..., `router`): references then pin `@sha256:...`.",
  "images.registry": "Registry `pulumi up` pushes to.",
  "images.registry.kind": "`artifact-registry`, `ecr` or `external`.",
  "images.registry.location": "Artifact Registry location.",
  "images.registry.repositoryId": "Artifact Registry repository id (created).",
  "images.registry.region": "ECR region.",
  "images.registry.repositoryPrefix": "Prefix of the ECR repositories (one per image, created).",
  "images.registry.server": "Registry host, e.g. `ghcr.io`.",
  "images.registry.repository": "Repository prefix in that registry.",
  "images.registry.username": "Registry user.",
  "images.registry.passwordKey":
    "Secret config key holding the registry password (also used for the imagePullSecret).",
  "images.platforms": "Platforms to build.",
  "images.pull":
    "Prebuilt images in a private registry: the credentials of the imagePullSecret (`images:promote` carries them over from an `external` build registry).",
  "images.pull.server": "Registry host, e.g. `ghcr.io`.",
  "images.pull.username": "Registry user.",
  "images.pull.passwordKey": "Secret config key holding the registry password.",

  router: "The task router.",
  "router.replicas": "Router pods.",
  "router.auth": "`required`: bearer tokens; `disabled`: open (dev only).",
  "router.tokensKey":
    "Secret config key with comma-separated bearer tokens; unset: one token generated by Pulumi.",
  ...prefixed("router", resources("the router container")),

  runtime: "Agent runtime.",
  "runtime.executor":
    "`llm`: the configured models; `echo`: every agent echoes (no keys, no model files; dev clusters).",
};
