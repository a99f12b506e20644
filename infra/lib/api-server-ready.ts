/**
 * Waiting for a freshly booted Kubernetes API server. The Kubernetes provider does not retry an
 * unreachable cluster (pulumi/pulumi-kubernetes#1044), and a K3s server answers only a minute or
 * two after its hcloud server is "created" (cloud-init, K3s download, first start), so the
 * kubeconfig Output is held back until `/readyz` answers 200: everything built on the cluster's
 * provider then waits, and the first `pulumi up` succeeds without a second run.
 *
 * The wait runs inside `apply` (it creates nothing, so the rule against resources in apply does not
 * apply) and only when an engine is deploying: previews and offline evaluations (Pulumi mocks, the
 * renderer) have nothing to wait for. A dynamic provider would do the same as a resource, but its
 * closure serialization takes about a minute and fails under the test runner's module transform.
 */
import * as https from "node:https";
import * as pulumi from "@pulumi/pulumi";

export interface ReadyzProbe {
  /** API server URL, e.g. https://203.0.113.20:6443. */
  server: string;
  /** PEM of the CA that signed the serving certificate, and the client certificate and key. */
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** One GET /readyz: resolves to the HTTP status as text, or the connection error's message. */
export function probeReadyz(p: ReadyzProbe, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve) => {
    const req = https.get(
      new URL("/readyz", p.server),
      { ca: p.caPem, cert: p.certPem, key: p.keyPem, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(String(res.statusCode));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => resolve(err.message));
  });
}

/** True when this program run deploys (`pulumi up`), not a preview or an offline evaluation. */
export function isDeploying(): boolean {
  return !pulumi.runtime.isDryRun() && pulumi.runtime.hasEngine();
}

/** Polls /readyz every `intervalMs` until 200; throws with a diagnosis hint after `timeoutSeconds`. */
export async function waitForReadyz(
  p: ReadyzProbe,
  timeoutSeconds = 900,
  intervalMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    last = await probeReadyz(p);
    if (last === "200") return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${p.server}/readyz did not answer 200 within ${timeoutSeconds} s (last: ${last}); on the first ` +
      "control-plane server check /var/log/cloud-init-output.log and journalctl -u k3s",
  );
}
