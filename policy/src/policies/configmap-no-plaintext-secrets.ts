import * as k8s from "@pulumi/kubernetes";
import { validateResourceOfType, type EnforcementLevel, type ResourceValidationPolicy } from "@pulumi/policy";
import { exemptSchema, matchingPattern, namespacedRef, skipIfExempt, type ExemptConfig } from "../lib/refs";

interface ConfigMapSecretsConfig extends ExemptConfig {
  /** Keys that look like secrets but are not (glob patterns). */
  allowKeys?: string[];
}

/** Key names that usually hold a credential. */
export const SECRET_KEY = /(api[_-]?key|token|password|secret)/i;
/** ...unless the key names where a secret lives (`ROUTER_TOKENS_FILE`), not the secret itself. */
const LOCATION_SUFFIX = /[_.-](file|path|dir|ref)$/i;
/** A URL carrying a password: `scheme://user:password@host`. */
const URL_CREDENTIALS = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i;
/** Token budgets of LLM calls are counts, not credentials. */
const DEFAULT_ALLOWED_KEYS = ["*MAX_TOKENS"];

const WHY =
  "ConfigMaps are not encrypted at rest, any role that can read ConfigMaps in the namespace can read them, and their values are printed in `pulumi preview` diffs and in the state file.";

/** ConfigMaps hold no secret-looking keys and no URLs with passwords. */
export function configMapNoPlaintextSecrets(level: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
  return {
    name: "configmap-no-plaintext-secrets",
    description:
      "ConfigMaps have no keys that look like credentials (api key, token, password, secret) and no values that are URLs with a password.",
    enforcementLevel: level,
    severity: "high",
    configSchema: {
      properties: {
        ...exemptSchema([]).properties,
        allowKeys: {
          type: "array",
          items: { type: "string" },
          default: DEFAULT_ALLOWED_KEYS,
          description: "Keys that look like credentials but are not (glob patterns, e.g. *MAX_TOKENS).",
        },
      },
    },
    validateResource: validateResourceOfType(k8s.core.v1.ConfigMap, (configMap, args, report) => {
      const ref = namespacedRef("ConfigMap", configMap.metadata, args.name);
      skipIfExempt(args, ref, []);
      const allowed = args.getConfig<ConfigMapSecretsConfig>().allowKeys ?? DEFAULT_ALLOWED_KEYS;
      // Keys first: reading a value that is unknown during preview stops the validation.
      const data = configMap.data ?? {};
      const keys = [...Object.keys(data), ...Object.keys(configMap.binaryData ?? {})];
      for (const key of keys) {
        if (!SECRET_KEY.test(key) || LOCATION_SUFFIX.test(key) || matchingPattern(key, allowed) !== undefined)
          continue;
        report(
          `${ref}, key "${key}": the key looks like a credential. ${WHY} Put the value in a Secret and reference it with secretKeyRef (or, if it is not a credential, add the key to this policy's allowKeys config).`,
        );
      }
      for (const [key, value] of Object.entries(data)) {
        if (URL_CREDENTIALS.test(value)) {
          report(
            `${ref}, key "${key}": the value is a URL with a password in it. ${WHY} Keep the URL without credentials in the ConfigMap and pass the password from a Secret.`,
          );
        }
      }
    }),
  };
}
