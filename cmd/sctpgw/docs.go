package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// bashCompletion asks sctpgw itself what may follow the words typed so
// far (urfave/cli answers --generate-bash-completion).
const bashCompletion = `# bash completion for sctpgw:
#   sctpgw completion bash > /etc/bash_completion.d/sctpgw
_sctpgw() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local args=("${COMP_WORDS[@]:0:COMP_CWORD}")
	[[ $cur == -* ]] && args+=("$cur")
	COMPREPLY=($(compgen -W "$("${args[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o default -F _sctpgw sctpgw
`

const zshCompletion = `#compdef sctpgw
# zsh completion for sctpgw:
#   sctpgw completion zsh > "${fpath[1]}/_sctpgw"
_sctpgw() {
	local -a opts args
	args=("${words[@]:0:$((CURRENT-1))}")
	[[ ${words[CURRENT]} == -* ]] && args+=("${words[CURRENT]}")
	opts=("${(@f)$("${args[@]}" --generate-bash-completion 2>/dev/null)}")
	if [[ -n ${opts[1]} ]]; then
		compadd -a opts
	else
		_files
	fi
}
compdef _sctpgw sctpgw
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			var script string
			switch c.Args().First() {
			case "bash":
				script = bashCompletion
			case "zsh":
				script = zshCompletion
			case "fish":
				var err error
				if script, err = c.App.ToFishCompletion(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("completion %q: expected bash, zsh or fish", c.Args().First())
			}
			fmt.Fprint(c.App.Writer, script)
			return nil
		},
	}
}

func manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the man page (roff): sctpgw man > /usr/local/share/man/man8/sctpgw.8",
		Action: func(c *cli.Context) error {
			page, err := c.App.ToManWithSection(8)
			if err != nil {
				return err
			}
			fmt.Fprint(c.App.Writer, page)
			return nil
		},
	}
}
