/** `felhom completion bash|zsh|fish`: prints a completion script generated from the command tree. */
import { Argument } from 'commander';
import type { CommandModule } from '../command.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

const command: CommandModule = {
  description: 'print a shell completion script (bash: source <(felhom completion bash))',
  configure(command) {
    command.addArgument(new Argument('<shell>', 'the shell').choices(SHELLS));
  },
  async run(context, [shell]) {
    context.out.line(completionScript(shell as Shell, context.program!).trimEnd());
  },
};
export default command;
