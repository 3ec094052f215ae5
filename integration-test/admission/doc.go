// Package admission holds the admission suite: every kind's schema and CEL rules are exercised
// against a real kube-apiserver and etcd (started once by TestMain through testenv), with tables of
// objects the API server must refuse, naming the bad field, and objects it must accept, among them
// the seed documents' own manifests with only the apiVersion changed.
//
// The SchedulePolicy rows are replayed through pkg/schedule.ValidatePolicy as well, so that the
// controller and the CLI can never accept what admission refuses, or word a mistake differently.
package admission
