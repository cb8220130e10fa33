#!/usr/bin/env bash
# Checks tests/fuzz/classify.sh on hand-written reports (ctest fuzz.classify): an HDF5-internal
# leak and crash are HDF5's; a leak with one block allocated by glassy, a crash in the C++
# wrapper and a leak report without frames are glassy's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fuzzer='(/build/fuzz/tests/fuzz/record_fuzzer+0x146428) (BuildId: d7d4)'
hdf5='(/lib/x86_64-linux-gnu/libhdf5_serial.so.103+0x1b3fdf) (BuildId: e923)'
cpp='(/lib/x86_64-linux-gnu/libhdf5_serial_cpp.so.103+0x47b76) (BuildId: 0300)'
leak_hdf5="Direct leak of 64 byte(s) in 1 object(s) allocated from:
    #0 0x1 in __interceptor_calloc $fuzzer
    #1 0x2  $hdf5
    #2 0x3 in H5O_msg_read_oh $hdf5
    #3 0x4 in glassy::read_record_here(H5::H5File&) /src/dynamics/record.cpp:112:38"
leak_glassy="Indirect leak of 16 byte(s) in 1 object(s) allocated from:
    #0 0x1 in operator new(unsigned long) $fuzzer
    #1 0x2 in glassy::read_thing() /src/dynamics/record.cpp:200:3
    #2 0x3 in H5O_msg_read_oh $hdf5"
head='==1==ERROR: LeakSanitizer: detected memory leaks'
printf '%s\n\n%s\n\nSUMMARY: x\n' "$head" "$leak_hdf5" >"$tmp/hdf5_leak"
printf '%s\n\n%s\n\n%s\nSUMMARY: x\n' "$head" "$leak_hdf5" "$leak_glassy" >"$tmp/mixed_leak"
printf '%s\nDirect leak of 8 byte(s) in 1 object(s) allocated from:\n' "$head" >"$tmp/leak_without_frames"
printf '==1==ERROR: AddressSanitizer: SEGV\n    #0 0x1 in H5HG_read %s\n    #1 0x2 in glassy::f() /src/a.cpp:1:1\n' \
  "$hdf5" >"$tmp/hdf5_crash"
printf '==1==ERROR: AddressSanitizer: SEGV\n    #0 0x1 in H5::H5Location::openDataSet %s\n    #1 0x2 in H5HG_read %s\n' \
  "$cpp" "$hdf5" >"$tmp/wrapper_crash"
status=0
for case in hdf5_leak:hdf5 mixed_leak:glassy leak_without_frames:glassy hdf5_crash:hdf5 wrapper_crash:glassy; do
  got=$(bash "$here/classify.sh" "$tmp/${case%%:*}")
  if [ "$got" != "${case##*:}" ]; then echo "classify.sh: ${case%%:*}: got $got, want ${case##*:}"; status=1; fi
done
exit $status
