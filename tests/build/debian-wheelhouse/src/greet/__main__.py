import sys
from greet import VERSION
print(f"hello from greet {VERSION}: {' '.join(sys.argv[1:])}")
