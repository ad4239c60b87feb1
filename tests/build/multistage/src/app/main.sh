#!/bin/sh
. /opt/app/util.sh
greet "app @VERSION@"
cat /opt/app/README
