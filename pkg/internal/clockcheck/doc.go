// Package clockcheck holds the test that keeps the wall clock out of the module: time flows in
// from an injected clock (k8s.io/utils/clock), so tests can drive it and no status depends on
// when a line happened to run.
//
// TestNoWallClock parses every non-test Go file of the module, except the commands under cmd/
// (which build the real clock) and the integration test harness under integration-test/ (test
// code, which may read the wall clock for deadlines, as _test.go files may), and fails on each
// reference to
//
//   - time.Now, time.Since and time.Until, called or not (x := time.Now counts);
//   - metav1.Now, which is time.Now in a metav1.Time;
//   - meta.SetStatusCondition, which stamps time.Now() on a condition whose LastTransitionTime
//     is zero: conditions.Set takes the time as an argument instead;
//
// resolving import paths, not local names, so an alias does not hide a reference.
package clockcheck
