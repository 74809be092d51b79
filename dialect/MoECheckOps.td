//===- MoECheckOps.td - Run-time checks of compiled entries --*- tablegen -*-===//
//
// A compiled entry cannot trust everything it is given: index tensors from
// the caller may be out of range, and memory allocation may fail. `moe.check`
// states such a condition where it is computed; `moe-lower-checks` turns
// every check into an early return that reports the message through the
// entry's status record (docs/artifact-abi.md, ABI version 2).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_MOECHECKOPS_TD
#define MOE_DIALECT_MOECHECKOPS_TD

def MoE_CheckOp : MoE_Op<"check", [MemoryEffects<[MemWrite]>]> {
  let summary = "stop the entry with an error when a condition holds";
  let description = [{
    If `failed` is true, the compiled entry stops at this point and returns
    the error `message` to the runtime, which reports it in one line. `{i}`
    (decimal digits in braces) in the message stands for the decimal value of
    `values[i]` (at most 7 values, integers or `index`, sign-extended to
    i64); other braces are plain text. Nothing after a failed
    check runs; results are then undefined and the runtime reports no
    results. Buffers allocated before the check in the same call are not
    released.

    Checks may appear anywhere in the entry function, also inside loops, up
    to `moe-lower-checks`, which lowers them after `convert-scf-to-cf`.

    ```mlir
    moe.check %bad, "input 'offsets' holds {0} at position {1}, outside [0, 9)"
        (%value, %i : i32, index)
    ```
  }];
  let arguments = (ins I1:$failed, StrAttr:$message,
                       Variadic<AnyTypeOf<[AnySignlessInteger, Index]>>:$values);
  let assemblyFormat = [{
    $failed `,` $message (`(` $values^ `:` type($values) `)`)? attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The most values a message can refer to (the status record's payload).
    static constexpr unsigned kMaxValues = 7;
  }];
}

#endif // MOE_DIALECT_MOECHECKOPS_TD
