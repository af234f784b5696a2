/**
 * The entry program `Pulumi.yaml` names (docs/engine.md). Pulumi's Node host takes a module with
 * either a default export or named exports, not both: the program itself lives in
 * stacks/operator-program.ts, this module only exports it.
 */
import { mainProgram } from './operator-program.js';

export default (): Promise<Record<string, unknown>> => mainProgram();
