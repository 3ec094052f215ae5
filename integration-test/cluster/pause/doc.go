// Command pause is the pod sandbox process of the single-node test cluster
// (integration-test/cluster): it holds a pod's namespaces open and does nothing until it is told to
// stop. It is built static so the image needs no other file, which lets the cluster make its own
// sandbox image instead of pulling one from a registry.
package main
