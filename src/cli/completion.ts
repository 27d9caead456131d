// Shell completion scripts (`cordon completion bash|zsh|fish`), generated from the command tree
// itself, so a new command or option completes without anyone editing a script. The scripts are
// static: completing a word runs no Node process.

import type { Command } from 'commander';

interface Entry {
  /** The words leading to the command: [] for cordon itself, ['policy', 'validate']. */
  path: string[];
  subcommands: string[];
  options: string[];
}

function entries(cmd: Command, path: string[] = []): Entry[] {
  const subs = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
  const options = [...cmd.options.flatMap((o) => [o.long, o.short]), '--help'].filter(
    (f): f is string => typeof f === 'string',
  );
  return [
    { path, subcommands: subs.map((c) => c.name()), options },
    ...subs.flatMap((c) => entries(c, [...path, c.name()])),
  ];
}

const key = (path: string[]) => path.join(' ');

function bash(list: Entry[]): string {
  const known = list.filter((e) => e.path.length > 0).map((e) => `"${key(e.path)}"`);
  const cases = list.map(
    (e) => `    "${key(e.path)}") words="${[...e.subcommands, ...e.options].join(' ')}" ;;`,
  );
  return `# cordon completion for bash: eval "$(cordon completion bash)" in ~/.bashrc
_cordon() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" next w i words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ $w == -* ]] && continue
    next="\${path:+$path }$w"
    case "$next" in
      ${known.join('|')}) path="$next" ;;
    esac
  done
  case "$path" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _cordon cordon
`;
}

function fish(list: Entry[]): string {
  const lines = ['# cordon completion for fish: cordon completion fish | source'];
  const all = [...new Set(list.flatMap((e) => e.subcommands))].join(' ');
  for (const e of list) {
    // At this command: every word of its path seen, and none of its subcommands yet.
    const at =
      e.path.length === 0
        ? `not __fish_seen_subcommand_from ${all}`
        : [
            ...e.path.map((w) => `__fish_seen_subcommand_from ${w}`),
            ...(e.subcommands.length
              ? [`not __fish_seen_subcommand_from ${e.subcommands.join(' ')}`]
              : []),
          ].join('; and ');
    if (e.subcommands.length)
      lines.push(`complete -c cordon -f -n '${at}' -a '${e.subcommands.join(' ')}'`);
    for (const o of e.options.filter((o) => o.startsWith('--')))
      lines.push(`complete -c cordon -n '${at}' -l ${o.slice(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: string, program: Command): string {
  const list = entries(program);
  if (shell === 'bash') return bash(list);
  // zsh runs the bash function through its bash completion layer.
  if (shell === 'zsh')
    return `# cordon completion for zsh: eval "$(cordon completion zsh)" in ~/.zshrc
autoload -U +X bashcompinit && bashcompinit
${bash(list)}`;
  if (shell === 'fish') return fish(list);
  throw new Error(`no completion for shell "${shell}": give bash, zsh or fish`);
}
