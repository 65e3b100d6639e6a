// dccgoclient drives a credential helper through the reference Go client of the protocol
// (github.com/docker/docker-credential-helpers/client, the package the Docker CLI uses).
//
// Usage: dccgoclient <helper binary>, with a JSON array of steps on stdin:
//
//	[{"op":"store","creds":{"ServerURL":"…","Username":"…","Secret":"…"}},
//	 {"op":"get","url":"…"}, {"op":"list"}, {"op":"erase","url":"…"}]
//
// It prints one JSON array with a result per step: {"err":"…","notFound":true,"creds":{…},"list":{…}}.
// The test that runs it (test/integration/go-client.test.ts) makes the assertions.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
)

type step struct {
	Op    string                   `json:"op"`
	URL   string                   `json:"url"`
	Creds *credentials.Credentials `json:"creds"`
}

type result struct {
	Err      string                   `json:"err,omitempty"`
	NotFound bool                     `json:"notFound,omitempty"`
	Creds    *credentials.Credentials `json:"creds,omitempty"`
	List     map[string]string        `json:"list,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dccgoclient <helper binary> < steps.json")
		os.Exit(2)
	}
	var steps []step
	if err := json.NewDecoder(os.Stdin).Decode(&steps); err != nil {
		fmt.Fprintln(os.Stderr, "reading steps:", err)
		os.Exit(2)
	}
	program := client.NewShellProgramFunc(os.Args[1])
	results := make([]result, 0, len(steps))
	for _, s := range steps {
		var r result
		var err error
		switch s.Op {
		case "store":
			err = client.Store(program, s.Creds)
		case "get":
			r.Creds, err = client.Get(program, s.URL)
		case "erase":
			err = client.Erase(program, s.URL)
		case "list":
			r.List, err = client.List(program)
		default:
			err = fmt.Errorf("unknown op %q", s.Op)
		}
		if err != nil {
			r.Err = err.Error()
			r.NotFound = credentials.IsErrCredentialsNotFound(err)
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Exit(2)
	}
}
