/**
 * `tradelite completion bash|zsh`: a shell script that completes command names, each command's
 * options and its first word (calendar list, settings set ...). Generated from the commands' own
 * option lists, so a new option completes without a second list to keep.
 */
import { EXIT_OK, parseOptions, UsageError, type Command } from "./shared.ts";

const SHELLS = ["bash", "zsh"] as const;

const USAGE = `usage: tradelite completion bash|zsh

Prints a completion script for the shell. bash: add \`source <(tradelite completion bash)\` to
~/.bashrc. zsh: add \`source <(tradelite completion zsh)\` to ~/.zshrc after compinit, or save
it as _tradelite in a folder on $fpath.`;

/** The words the command line's first argument may be, besides the commands. */
const GLOBAL_WORDS = ["help", "--help", "--version"];

/** One command's completions: its options as --name, and the words its first argument may be. */
function wordsOf(command: Command): { options: string; actions: string } {
  const options = [...Object.keys(command.options), "help"].map((name) => `--${name}`).join(" ");
  return { options, actions: (command.actions ?? []).join(" ") };
}

export function bashCompletion(commands: readonly Command[]): string {
  const names = commands.map((command) => command.name).join(" ");
  const cases = commands.map((command) => {
    const { options, actions } = wordsOf(command);
    return `    ${command.name}) options="${options}"; actions="${actions}" ;;`;
  });
  return `# tradelite completion for bash: source <(tradelite completion bash)
_tradelite() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" options="" actions=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names} ${GLOBAL_WORDS.join(" ")}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
    help) actions="${names}" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$options" -- "$cur"))
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$actions" ]; then
    COMPREPLY=($(compgen -W "$actions" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _tradelite tradelite
`;
}

export function zshCompletion(commands: readonly Command[]): string {
  const names = commands.map((command) => command.name).join(" ");
  const cases = commands.map((command) => {
    const { options, actions } = wordsOf(command);
    return `    ${command.name}) options=(${options}); actions=(${actions}) ;;`;
  });
  // Autoloaded from $fpath the file is the function's body; sourced, it defines and registers it.
  return `#compdef tradelite
# tradelite completion for zsh: source <(tradelite completion zsh), or save as _tradelite on $fpath
_tradelite() {
  local -a options actions
  if (( CURRENT == 2 )); then
    compadd -- ${names} ${GLOBAL_WORDS.join(" ")}
    return
  fi
  case \${words[2]} in
${cases.join("\n")}
    help) actions=(${names}) ;;
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $options
  elif (( CURRENT == 3 && \${#actions} > 0 )); then
    compadd -- $actions
  else
    _files
  fi
}
if [ "$funcstack[1]" = "_tradelite" ]; then
  _tradelite "$@"
else
  compdef _tradelite tradelite
fi
`;
}

/** The completion command, over the command list it is part of (given late: the list holds it). */
export function completionCommand(commands: () => readonly Command[]): Command {
  return {
    name: "completion",
    summary: "print a bash or zsh completion script",
    usage: USAGE,
    options: {},
    actions: SHELLS,
    async run(argv) {
      const { values, positionals } = parseOptions(argv, {});
      if (values.help) {
        console.log(USAGE);
        return EXIT_OK;
      }
      const [shell, ...extra] = positionals;
      if (shell === undefined || extra.length > 0 || !(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`name one shell: ${SHELLS.join(" or ")}`);
      process.stdout.write(shell === "bash" ? bashCompletion(commands()) : zshCompletion(commands()));
      return EXIT_OK;
    },
  };
}
