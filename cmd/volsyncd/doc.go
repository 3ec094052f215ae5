// Command volsyncd is the volsync operator: it runs a controller-runtime manager with every volsync
// controller registered in controllers.go, serves Prometheus metrics and health probes, and stops
// cleanly on SIGTERM. This package only wires things together; the logic lives under pkg/.
package main
