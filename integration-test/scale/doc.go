// Command scale measures volsyncd at the scale users run it, on the real API server of the test bed
// (etcd and kube-apiserver from hack/envtest-assets.sh), with volsyncd as its own process on its
// own clock, run as the Deployment in specs/manager runs it. `make bench-scale` runs it.
//
// It measures, in this order:
//
//  1. start-up: 5,000 ReplicationSources (each with its PVC) on policies whose next trigger is
//     hours away and 1,000 suspended MigrationSchedules exist before volsyncd starts; the time until
//     every one of them has been reconciled, and the API requests that took;
//  2. idle cost: after that, the API requests per minute (the API server's own
//     apiserver_request_total), and volsyncd's resident memory and CPU, over SCALE_IDLE (5m);
//  3. unrelated objects: SCALE_UNRELATED (10,000) Secrets and as many PVCs that are not volsync's
//     are added, and volsyncd's resident memory is compared before and after (volsyncd caches
//     those kinds only with its own label, so it should not grow);
//  4. restart: the same as 1 for a volsyncd restarted over objects whose status is current;
//  5. timeliness: 1,000 more owners, half ReplicationSources and half MigrationSchedules, on
//     daily, weekly and monthly policies that fire on one of the next SCALE_SPREAD (5) minutes,
//     and interval policies of 2 to 5 minutes; for every dated child, the delay between its
//     scheduled time and the instant volsyncd created it (its volsync.backube/created-at
//     annotation, read from volsyncd's clock with nanoseconds);
//  6. mover start: SCALE_CRON_SOURCES (500) rsync-tls ReplicationSources on "*/2 * * * *", two
//     firings, then a manual trigger set on all of them at once, then SCALE_POLICY_SOURCES (1,000)
//     on one daily SchedulePolicy; for each, the time from the trigger to the mover Job (as a watch
//     sees it), volsyncd's writes and GETs per sync, and the floor: the same Jobs created by the
//     bench alone. The bench marks the Jobs Complete as the Job controller would.
//     SCALE_ONLY=movers runs this phase alone.
//
// Nothing is faked on volsyncd's side. The Migrations run for real, through a ClusterPair that
// reaches this same API server, copying their own (nearly empty) namespace into "<namespace>-dr"
// without volumes. The ReplicationSources' mover Jobs are created but never run, as no kubelet is
// there. Writes of leader election (volsyncd's Lease every two seconds, the API server's identity
// Lease, the Event of a new leader) are counted apart from the objects' own: they do not depend on
// how many objects there are. etcd runs without fsync, as envtest starts it.
//
// It prints one table of figures, goals and measurements. It exits non-zero only when something
// does not work: a trigger missed or run twice, an idle owner that fired, an object never
// reconciled. A goal missed is reported in the table, not as a failure, since the figures depend
// on the machine.
package main
