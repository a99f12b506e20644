/**
 * Entry point the Pulumi CLI loads (through policy/package.json "main", compiled to dist/index.js):
 * `pulumi preview --policy-pack policy`. See policy/README.md.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_DESCRIPTION, PACK_NAME, agentFleetPolicies } from "./pack";

new PolicyPack(PACK_NAME, { description: PACK_DESCRIPTION, policies: agentFleetPolicies() });
