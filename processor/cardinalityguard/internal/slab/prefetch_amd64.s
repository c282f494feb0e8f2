// Copyright otelcol-airi authors
// SPDX-License-Identifier: Apache-2.0

#include "textflag.h"

// func prefetchAll(p []unsafe.Pointer)
TEXT ·prefetchAll(SB), NOSPLIT, $0-24
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), CX
	TESTQ CX, CX
	JEQ done
loop:
	MOVQ (SI), AX
	PREFETCHT0 (AX)
	ADDQ $8, SI
	DECQ CX
	JNE loop
done:
	RET
