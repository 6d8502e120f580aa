package bench_test

import "runtime"

func runtimeIsLinux() bool { return runtime.GOOS == "linux" }
