greet() { echo "hello from $1"; }
