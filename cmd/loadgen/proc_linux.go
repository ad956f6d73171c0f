package main

import "syscall"

// childAttr makes the kernel stop serviceflow if loadgen dies without cleaning up.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
