import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import type { LocalCommand } from './common.js';

/** Commands that cli/main.ts runs itself (not in the client command tree). */
const OTHER_COMMANDS = ['server', 'version'];

/** Every command path of the tree ("konsul", "konsul kv", …) and the words that may follow it. */
export function completionWords(program: Command): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visit = (cmd: Command, path: string): void => {
    const words = [
      ...cmd.commands.map((c) => c.name()),
      // Consul's single-dash spelling; the double-dash one is accepted too.
      ...cmd.options.flatMap((o) => (o.long ? [o.long.replace(/^--/, '-')] : o.short ? [o.short] : [])),
      ...(path === 'konsul' ? OTHER_COMMANDS : []),
    ];
    out.set(path, [...new Set(words)].sort());
    for (const c of cmd.commands) visit(c, `${path} ${c.name()}`);
  };
  visit(program, 'konsul');
  return out;
}

/** A bash completion script for `konsul` (zsh runs it through bashcompinit). */
export function bashCompletion(program: Command): string {
  const entries = [...completionWords(program)]
    .map(([path, words]) => `  [${JSON.stringify(path)}]=${JSON.stringify(words.join(' '))}`)
    .join('\n');
  return `# konsul completion (bash). Load it with: source <(konsul completion bash)
declare -gA _konsul_words=(
${entries}
)
_konsul() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path=konsul i w next
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    next="$path $w"
    [[ -n "\${_konsul_words[$next]+set}" ]] && path="$next"
  done
  COMPREPLY=($(compgen -W "\${_konsul_words[$path]}" -- "$cur"))
}
complete -o default -F _konsul konsul
`;
}

/** Registers `completion bash|zsh`. */
export function registerCompletionCommand(program: Command, local: LocalCommand): void {
  local(
    program
      .command('completion')
      .description('print a shell completion script: source <(konsul completion bash), or zsh')
      .argument('<shell>', 'bash or zsh'),
    async (io, shell: string) => {
      if (shell === 'bash') io.out(bashCompletion(program));
      else if (shell === 'zsh')
        io.out(`# konsul completion (zsh). Load it with: source <(konsul completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`);
      else throw new CliError(`no completion for ${JSON.stringify(shell)}: bash or zsh`, 2);
      return 0;
    },
  );
}
