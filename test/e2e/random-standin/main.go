// A STAND-IN for the pulumi-random resource provider, for agent-fleet's end-to-end suite only.
//
// The Go module proxy this project builds from does not serve github.com/pulumi/pulumi-random, and
// agent-fleet's program creates RandomPassword resources (the Redis password and the router token).
// This plugin implements exactly that: RandomPassword with `length` and `special`, every other input
// refused, any input change a replacement (as in the real provider). It reports the version of the
// @pulumi/random SDK it stands in for, so the engine loads it without a version mismatch; its
// schema (schema.json, served by GetSchema) is checked against that SDK by test/e2e/random-standin.test.ts.
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/big"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
)

//go:embed schema.json
var schema string

const (
	passwordType = "random:index/randomPassword:RandomPassword"
	// The real provider's defaults: letters, digits and this set of special characters.
	letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	special = "!@#$%&*()-_=+[]{}<>:?"
	// Every RandomPassword the real provider creates has this ID.
	passwordID = "none"
	maxLength  = 1024
)

var marshal = plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true}

type standin struct {
	pulumirpc.UnimplementedResourceProviderServer
	version string
}

func main() {
	var meta struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal([]byte(schema), &meta); err != nil {
		fmt.Fprintf(os.Stderr, "random stand-in: schema.json: %v\n", err)
		os.Exit(1)
	}
	err := provider.Main("random", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &standin{version: meta.Version}, nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "random stand-in: %v\n", err)
		os.Exit(1)
	}
}

func (p *standin) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: p.version}, nil
}

func (p *standin) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schema}, nil
}

func (p *standin) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *standin) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *standin) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	// Secrets are not accepted: the engine strips them before calling and re-applies secretness
	// (the SDK marks `result` as an additional secret output).
	return &pulumirpc.ConfigureResponse{}, nil
}

// Check validates a RandomPassword's inputs and fills in the default of `special`.
func (p *standin) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshal)
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	for key := range news {
		if key != "length" && key != "special" {
			fail(string(key), fmt.Sprintf("the random stand-in implements only length and special, not %q "+
				"(agent-fleet's e2e suite: extend test/e2e/random-standin if the program needs it)", key))
		}
	}
	switch length, ok := news["length"]; {
	case !ok:
		fail("length", "missing required property 'length'")
	case length.IsComputed():
	case !length.IsNumber() || length.NumberValue() != float64(int(length.NumberValue())):
		fail("length", "must be an integer")
	case length.NumberValue() < 1 || length.NumberValue() > maxLength:
		fail("length", fmt.Sprintf("must be between 1 and %d", maxLength))
	}
	if s, ok := news["special"]; !ok {
		news["special"] = resource.NewBoolProperty(true)
	} else if !s.IsBool() && !s.IsComputed() {
		fail("special", "must be a boolean")
	}
	inputs, err := plugin.MarshalProperties(news, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Diff: any change of an input replaces the password, as in the real provider.
func (p *standin) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := plugin.UnmarshalProperties(req.GetOldInputs(), marshal)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshal)
	if err != nil {
		return nil, err
	}
	var replaces []string
	for _, key := range []resource.PropertyKey{"length", "special"} {
		if !olds[key].DeepEquals(news[key]) {
			replaces = append(replaces, string(key))
		}
	}
	if len(replaces) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	return &pulumirpc.DiffResponse{
		Changes: pulumirpc.DiffResponse_DIFF_SOME, Replaces: replaces, Diffs: replaces,
	}, nil
}

func (p *standin) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetType()); err != nil {
		return nil, err
	}
	inputs, err := plugin.UnmarshalProperties(req.GetProperties(), marshal)
	if err != nil {
		return nil, err
	}
	outputs := inputs.Copy()
	length := inputs["length"]
	if req.GetPreview() || length.IsComputed() || inputs["special"].IsComputed() {
		outputs["result"] = resource.MakeComputed(resource.NewStringProperty(""))
	} else {
		charset := letters
		if inputs["special"].BoolValue() {
			charset += special
		}
		password, err := generate(int(length.NumberValue()), charset)
		if err != nil {
			return nil, err
		}
		outputs["result"] = resource.NewStringProperty(password)
	}
	props, err := plugin.MarshalProperties(outputs, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: passwordID, Properties: props}, nil
}

// Read returns the recorded state: nothing outside Pulumi's state can drift.
func (p *standin) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *standin) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *standin) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func checkType(t string) error {
	if t != passwordType {
		return fmt.Errorf("the random stand-in implements only %s, not %s", passwordType, t)
	}
	return nil
}

// generate draws `length` characters uniformly from charset with crypto/rand.
func generate(length int, charset string) (string, error) {
	out := make([]byte, length)
	limit := big.NewInt(int64(len(charset)))
	for i := range out {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", err
		}
		out[i] = charset[n.Int64()]
	}
	return string(out), nil
}
