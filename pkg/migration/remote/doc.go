// Package remote reaches the destination cluster of a ClusterPair: it reads the kubeconfig from the
// pair's Secret, turns it into a client configuration, and checks for real that the destination
// answers and lets the kubeconfig's user do what a migration does there.
//
// Every failure is an *Error whose Reason is one of the ClusterPair condition reasons
// (SecretNotFound, InvalidKubeconfig, Unreachable, Forbidden) and whose message says what to fix,
// so the ClusterPair and Migration controllers can put it straight into a condition.
//
// A kubeconfig stored in a Secret is written by whoever may write Secrets in that namespace, and
// volsyncd uses it with its own process: so only kubeconfigs whose credentials and certificates are
// inline are accepted. exec and auth-provider plugins would run commands inside volsyncd, and file
// paths would read volsyncd's own files (its service account token among them) and could send them
// to a server of the writer's choosing.
//
// Every request has a deadline (DefaultTimeout), so an unreachable destination costs a worker
// seconds, not minutes.
package remote
