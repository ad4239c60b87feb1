#!/bin/sh
hello
cat /app/SUMS
