// Package copier decides what a Migration copies to the destination cluster and in what shape: which
// kinds, in which order, which objects of them, what to take out of each object because it
// belongs to the source cluster (its identity, its status, the IPs and nodes it was given there),
// and which namespace it goes to (namespaceMapping).
//
// It is pure on purpose: every function takes objects as unstructured maps and returns values, with
// no client and no clock, so the rules can be read in one place and pinned down by tables. The
// Migration reconciler lists, applies and deletes; this package only says what.
//
// Objects are carried as unstructured so one set of rules serves every kind, and so a field the
// typed structs do not know (a newer API server's) is copied rather than dropped.
package copier
