// The node suite's cluster DNS (test/node/README.md): CoreDNS v1.15.0 with only the plugins the
// suite's Corefile uses, chosen at compile time the way CoreDNS documents for custom builds (set
// dnsserver.Directives, import the plugin packages, call coremain.Run). The full build links every
// cloud backend CoreDNS supports; this one links the kubernetes plugin and the core, whose
// Kubernetes client packages the toolchain's Kubernetes build has already compiled.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The plugins of the node's Corefile (test/node/node.sh), in the order of CoreDNS' plugin.cfg,
	// which is the order a query passes through them.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	dnsserver.Directives = []string{"ready", "log", "errors", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
