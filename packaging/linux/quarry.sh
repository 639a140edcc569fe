#!/bin/sh
# Quarry's launcher on PATH; the program and everything it needs live in /opt/quarry.
exec /opt/quarry/quarry "$@"
