package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/frameflow/frameflow/state"

	"github.com/frameflow/frameflow/internal/termtext"
	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X github.com/frameflow/frameflow/cli.Version=v1.2.3".
var Version = "dev"

// Revision is the commit, set at build time with -ldflags "-X
// github.com/frameflow/frameflow/cli.Revision=$(git rev-parse HEAD)" where
// go build records none: it stamps VCS info only when the module sits in
// a directory holding a .git directory, not in a git worktree, whose .git
// is a file (golang/go#58218), nor with -buildvcs=false.
var Revision = ""

// app holds what every command shares.
type app struct {
	streams Streams
	red     *Redactor

	// global flags
	apiURL      string
	credentials string
	stateDir    string
	stateFlag   string        // --state: local or a postgres:// DSN
	lockTimeout time.Duration // --lock-timeout
	backend     state.Backend // opened by openState, closed by Main
	logLevel    string
	logFormat   string
	noColor     bool

	logger *slog.Logger
	// notesSaid: the notes this command printed already (the demo plans,
	// then runs: the same note once is enough).
	notesSaid map[string]bool
}

// Main runs frameflow with args (without the program name) and returns the
// process exit code.
func Main(args []string, s Streams) int {
	if s.Getenv == nil {
		s.Getenv = func(string) string { return "" }
	}
	a := &app{streams: s, red: &Redactor{}}
	// The client secret is redacted from everything, even before it is used.
	a.red.Add(s.getenv("FRAME_CLIENT_SECRET"))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C or SIGTERM asks the run to stop cleanly; from then on
	// the default action is back, so a second one always ends the process
	// (the journal is written to survive that), whatever is blocking.
	go func() {
		<-ctx.Done()
		stop()
	}()

	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(a.red.Writer(s.Out))
	root.SetErr(a.red.Writer(s.Err))
	err := root.ExecuteContext(ctx)
	a.closeState()
	code := codeOf(err)
	if err != nil {
		var ee *exitError
		if !(errors.As(err, &ee) && ee.err == nil) {
			shown := commandHint(err)
			var report interface{ Report() (string, []string) }
			if errors.As(shown, &report) {
				head, lines := report.Report()
				fmt.Fprintln(a.red.Writer(s.Err), "error: "+termtext.Line(head))
				for _, l := range lines {
					fmt.Fprintln(a.red.Writer(s.Err), "  "+termtext.Line(l))
				}
			} else {
				fmt.Fprintln(a.red.Writer(s.Err), "error: "+termtext.Message(shown.Error()))
			}
			var h interface{ Hint() string }
			if errors.As(shown, &h) {
				for _, l := range strings.Split(h.Hint(), "\n") {
					fmt.Fprintln(a.red.Writer(s.Err), termtext.Line(l))
				}
			}
		}
		if !errors.As(err, &ee) && isUsageError(err) {
			code = ExitInvalid
		}
	}
	if ctx.Err() != nil && code != ExitOK {
		code = ExitInterrupted
	}
	return code
}

// isUsageError recognises cobra's own argument and flag errors, which are
// plain errors.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "frameflow",
		Short: "Declarative workflows for the Nutanix Frame Admin API",
		Long: `frameflow runs YAML playbooks against the Nutanix Frame Admin API: it validates
them, previews exactly what would change (plan), and runs their steps as a DAG
with retries, timeouts, fan-out and a durable journal that resume continues.

Environment:
  FRAME_API_URL         API base URL (default https://api.console.nutanix.com/v1)
  FRAME_CLIENT_ID       API client id
  FRAME_CLIENT_SECRET   API client secret (never accepted on the command line)
  FRAMEFLOW_STATE_DIR   run journals and locks (default .frameflow)
  FRAMEFLOW_STATE       state backend: local (default) or a postgres:// DSN (docs/state.md)
  NO_COLOR              disable colour

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.setupLogging(); err != nil {
				return err
			}
			return a.checkStateSpec(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.apiURL, "api-url", "", "Frame Admin API base URL (overrides FRAME_API_URL)")
	pf.StringVar(&a.credentials, "credentials", "", "`FILE` with client_id and client_secret: JSON, KEY=VALUE lines or flat YAML (mode 600: readable by you only)")
	pf.StringVar(&a.stateDir, "state-dir", "", "directory for run journals and locks (default $FRAMEFLOW_STATE_DIR or .frameflow)")
	pf.StringVar(&a.stateFlag, "state", "", "state backend: local (the state directory) or a postgres://... DSN shared by runners (default $FRAMEFLOW_STATE or local)")
	pf.DurationVar(&a.lockTimeout, "lock-timeout", defaultLockTimeout, "how long a step waits for an account or pool another run holds before failing")
	pf.StringVar(&a.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	pf.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&a.noColor, "no-color", false, "disable colour")

	root.AddCommand(
		a.validateCmd(), a.planCmd(), a.applyCmd(), a.runCmd(), a.resumeCmd(), a.approveCmd(), a.runsCmd(),
		a.graphCmd(), a.schemaCmd(), a.stepsCmd(), a.apiCmd(), a.doctorCmd(), a.simCmd(), a.serveCmd(), a.demoCmd(), a.benchCmd(), a.versionCmd(),
	)
	polishHelp(root)
	return root
}

func (a *app) setupLogging() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usageErr("--log-level must be debug, info, warn or error, not %q", a.logLevel)
	}
	w := a.red.Writer(a.streams.Err)
	opts := &slog.HandlerOptions{Level: lvl}
	switch a.logFormat {
	case "text":
		a.logger = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		a.logger = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return usageErr("--log-format must be text or json, not %q", a.logFormat)
	}
	routeStdLog(a.logger)
	return nil
}

func (a *app) color() bool { return !a.noColor && a.streams.Color() }

func (a *app) getenv(k string) string { return a.streams.getenv(k) }

func (a *app) stateDirectory() string {
	if a.stateDir != "" {
		return a.stateDir
	}
	if d := a.getenv("FRAMEFLOW_STATE_DIR"); d != "" {
		return d
	}
	return ".frameflow"
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version (from the build)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			writeVersion(cmd.OutOrStdout())
			return nil
		},
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("usage: %s %s", cmd.CommandPath(), what)
		}
		return nil
	}
}
