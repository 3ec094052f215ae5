package main

import (
	"fmt"
	"io"

	"github.com/bombsimon/logrusr/v4"
	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
)

// logLevels are the values --log-level accepts. debug also turns on logr's V(1) messages, which
// controller-runtime uses for its chattier lines.
var logLevels = map[string]logrus.Level{
	"debug": logrus.DebugLevel,
	"info":  logrus.InfoLevel,
	"warn":  logrus.WarnLevel,
	"error": logrus.ErrorLevel,
}

// newLogger builds the process logger: logrus for the output, bridged to logr so that
// controller-runtime and client-go (klog) write through it too.
func newLogger(out io.Writer, level, format string) (logr.Logger, error) {
	lvl, ok := logLevels[level]
	if !ok {
		return logr.Logger{}, fmt.Errorf("--log-level %q is not one of debug, info, warn, error", level)
	}
	l := logrus.New()
	l.SetOutput(out)
	l.SetLevel(lvl)
	switch format {
	case "json":
		l.SetFormatter(&logrus.JSONFormatter{})
	case "text":
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, DisableColors: true})
	default:
		return logr.Logger{}, fmt.Errorf("--log-format %q is not one of json, text", format)
	}
	return logrusr.New(l), nil
}
