/** K3sPki constructed alone under Pulumi mocks: the CAs, the service-account key and the admin certificate. */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { K3sPki, validateK3sPkiArgs } from "../../../../../infra/components/cluster/hetzner-k3s/pki";
import { fakeValue } from "../../../../../infra/render/mocks";
import { named, ofType, underMocks } from "../../../support/under-mocks";

const KEY = "tls:index/privateKey:PrivateKey";
const CA = "tls:index/selfSignedCert:SelfSignedCert";
const CSR = "tls:index/certRequest:CertRequest";
const SIGNED = "tls:index/locallySignedCert:LocallySignedCert";

describe("K3sPki", () => {
  it("creates K3s's five CAs (ECDSA P-256, 10 years), an RSA service-account key and a client-CA-signed admin certificate", async () => {
    const { mocks, result } = await underMocks(async () => {
      const pki = new K3sPki("pki", {});
      return {
        bundleSecret: await pulumi.isSecret(pki.caBundle),
        keySecret: await pulumi.isSecret(pki.adminKeyPem),
      };
    });
    expect(
      ofType(mocks, CA)
        .map((c) => c.name)
        .sort(),
    ).toEqual([
      "pki-client-ca",
      "pki-etcd-peer-ca",
      "pki-etcd-server-ca",
      "pki-request-header-ca",
      "pki-server-ca",
    ]);
    expect(named(mocks, CA, "pki-server-ca").inputs).toMatchObject({
      isCaCertificate: true,
      validityPeriodHours: 10 * 365 * 24,
      subject: { commonName: "k3s-server-ca", organization: "agent-fleet" },
    });
    expect(named(mocks, KEY, "pki-client-ca-key").inputs).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    expect(named(mocks, KEY, "pki-service-account-key").inputs).toEqual({ algorithm: "RSA", rsaBits: 2048 });
    expect(named(mocks, CSR, "pki-admin-csr").inputs.subject).toEqual({
      commonName: "agent-fleet-admin",
      organization: "system:masters",
    });
    const admin = named(mocks, SIGNED, "pki-admin-cert").inputs;
    expect(admin).toMatchObject({
      validityPeriodHours: 365 * 24,
      earlyRenewalHours: 30 * 24,
      allowedUses: ["client_auth", "digital_signature", "key_encipherment"],
    });
    // Signed by the client CA (the mocks derive each stand-in PEM from its resource's name).
    expect(String(admin.caCertPem)).toContain(fakeValue("cert", "pki-client-ca"));
    expect(String(admin.caPrivateKeyPem)).toContain(fakeValue("key", "pki-client-ca-key"));
    expect(result).toEqual({ bundleSecret: true, keySecret: true });
  });

  it("takes the admin identity from Args", async () => {
    const { mocks } = await underMocks(
      () => new K3sPki("pki", { adminUser: "ops", adminGroup: "fleet-admins" }),
    );
    expect(named(mocks, CSR, "pki-admin-csr").inputs.subject).toEqual({
      commonName: "ops",
      organization: "fleet-admins",
    });
  });

  it("validates with property paths", () => {
    expect(() => validateK3sPkiArgs("pki", { adminUser: " " })).toThrow(
      'K3sPki "pki": adminUser: must not be empty (omit it for the default)',
    );
  });
});
