// Command system-validators runs kubeadm's system verification, k8s.io/system-validators, the
// way kubeadm's SystemVerificationCheck does (cmd/kubeadm/app/preflight/checks.go and
// checks_linux.go addOSValidator): the kernel validator, then the OS and cgroups validators,
// each with DefaultSysSpec, collecting their warnings and errors.
//
// It prints one JSON object: every item the validators reported (key, value, and good, bad or
// warn, as kubeadm's StreamReporter would colour them), and the warnings and errors that
// kubeadm prints as "[WARNING SystemVerification]: ..." and "[ERROR SystemVerification]: ...";
// those lines go to stderr as kubeadm writes them. Exit 1 when there is an error.
//
// Built by tests/peers offline from Debian's golang-k8s-system-validators-dev:
// GO111MODULE=off GOPROXY=off GOPATH=<dir>:/usr/share/gocode go build.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	system "k8s.io/system-validators/validators"
)

type item struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Result string `json:"result"`
}

// recorder is a system.Reporter that keeps what it is told.
type recorder struct {
	items []item
}

func (r *recorder) Report(key, value string, result system.ValidationResultType) error {
	// The validators' result constants (unexported): good = 0, bad = 1, warn = 2.
	names := map[system.ValidationResultType]string{0: "good", 1: "bad", 2: "warn"}
	name, ok := names[result]
	if !ok {
		name = fmt.Sprintf("unknown(%d)", result)
	}
	r.items = append(r.items, item{Key: key, Value: value, Result: name})
	return nil
}

func main() {
	rec := &recorder{}
	validators := []system.Validator{
		&system.KernelValidator{Reporter: rec},
		&system.OSValidator{Reporter: rec},
		&system.CgroupsValidator{Reporter: rec},
	}
	out := struct {
		Items    []item   `json:"items"`
		Warnings []string `json:"warnings"`
		Errors   []string `json:"errors"`
	}{Items: []item{}, Warnings: []string{}, Errors: []string{}}
	for _, v := range validators {
		warns, errs := v.Validate(system.DefaultSysSpec)
		for _, w := range warns {
			out.Warnings = append(out.Warnings, w.Error())
			fmt.Fprintf(os.Stderr, "\t[WARNING SystemVerification]: %v\n", w)
		}
		for _, e := range errs {
			out.Errors = append(out.Errors, e.Error())
			fmt.Fprintf(os.Stderr, "\t[ERROR SystemVerification]: %v\n", e)
		}
	}
	out.Items = append(out.Items, rec.items...)
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if len(out.Errors) > 0 {
		os.Exit(1)
	}
}
