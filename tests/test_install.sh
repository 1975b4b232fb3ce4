#!/usr/bin/env bash
# `cmake --install` into a scratch prefix, then a separate project uses it through find_package(cformer)
# and through pkg-config, and runs a backward pass.
set -euo pipefail
cformer_bin=$1 src=$2 build=$3
if grep -q "^CF_SANITIZE:BOOL=ON" "$build/CMakeCache.txt" 2>/dev/null; then
    echo "sanitizer build: its static libraries need the sanitizer runtime in every consumer; skipped"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null

mkdir -p "$tmp/consumer"
cat > "$tmp/consumer/main.c" <<'C'
#include <autograd/cformer.h>
#include <stdio.h>
int main(void)
{
    cf_ctx *ctx = cf_ctx_new(NULL);
    cf_tensor *x = cf_full(ctx, CF_F64, CF_SHAPE(3), 2.0);
    x->requires_grad = true;
    cf_tensor *y = cf_matmul(ctx, cf_exp(ctx, x), x);
    if (!y || cf_backward(ctx, y, NULL) != CF_OK) {
        fprintf(stderr, "%s\n", cf_last_error());
        return 1;
    }
    printf("grad %.6f\n", cf_get_flat(x->grad, 0));
    cf_ctx_free(ctx);
    return 0;
}
C
cat > "$tmp/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(cformer REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE cformer::cf_autograd)
CM
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
out=$("$tmp/consumer/build/consumer")
# d/dx sum(exp(x) * x) = exp(x) (1 + x) = 3 e^2
[ "$out" = "grad 22.167168" ] || { echo "find_package consumer printed '$out'"; exit 1; }

export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib64/pkgconfig"
cc -std=c11 "$tmp/consumer/main.c" -I"$tmp/prefix/include" $(pkg-config --cflags --libs --static cformer) -o "$tmp/pc"
out=$("$tmp/pc")
[ "$out" = "grad 22.167168" ] || { echo "pkg-config consumer printed '$out'"; exit 1; }
"$tmp/prefix/bin/cformer" --version >/dev/null
echo "1 passed, 0 failed"
