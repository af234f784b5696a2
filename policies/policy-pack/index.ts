/**
 * The Felhom PolicyPack's entry point: the engine's analyzer runs this file (from its compiled
 * folder, which holds PulumiPolicy.yaml, see policyPackDirectory()). Constructing the pack
 * starts the analyzer's gRPC server and never returns, so nothing else may import this file.
 */
import { PolicyPack } from '@pulumi/policy';
import { loadPolicyBox, policyPackArgs, POLICY_PACK_NAME } from '../pack.js';

new PolicyPack(POLICY_PACK_NAME, policyPackArgs(loadPolicyBox()));
