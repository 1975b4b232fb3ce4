#!/usr/bin/env bash
# `cformer tokenizer encode|decode` with every tokenizer kind a recipe can name: ids as the fixtures give
# them (tests/data/tokenizers/*.expected.json for hf, llama.json for spm), any bytes round-trip through a file, and bad arguments
# (unknown kind, missing vocabulary, an id outside it) are refused with exit status 2 or 1 and a message.
# Args: <cformer-binary> <source-dir> <build-dir>.
source "$(dirname "$0")/harness.bash"
cf=$1 fx=$2/tests/data/tokenizers

check [ "$("$cf" tokenizer encode --kind hf --vocab "$fx/llama3.tokenizer.json" "hello world")" = "256 543 553" ]
check [ "$("$cf" tokenizer decode --kind hf --vocab "$fx/llama3.tokenizer.json" 256 543 553)" = "hello world" ]
check [ "$("$cf" tokenizer encode --kind spm --vocab "$fx/llama.model" "Hello world")" = "310 78 311 275 320 266 320 316 301" ]
check [ "$("$cf" tokenizer decode --kind spm --vocab "$fx/llama.model" 310 78 311 275 320 266 320 316 301)" = "Hello world" ]
check [ "$("$cf" tokenizer encode "ab")" = "97 98" ]
check [ "$("$cf" tokenizer decode 104 105)" = "hi" ]

head -c 20000 /dev/urandom > "$tmp/junk"
for kind in gpt2 llama3; do
    ids=$("$cf" tokenizer encode --kind hf --vocab "$fx/$kind.tokenizer.json" --file "$tmp/junk") || bad "$kind: encode"
    # shellcheck disable=SC2086
    "$cf" tokenizer decode --kind hf --vocab "$fx/$kind.tokenizer.json" $ids > "$tmp/back" || bad "$kind: decode"
    check cmp -s "$tmp/junk" "$tmp/back"
done

expect_fail() { # status message-fragment command...
    local want=$1 frag=$2
    shift 2
    "$@" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    if [ $rc -ne "$want" ] || ! grep -q -- "$frag" "$tmp/err"; then
        bad "expected status $want and '$frag' from: $* (got $rc: $(cat "$tmp/err"))"
    else
        ok
    fi
}
expect_fail 2 "unknown tokenizer 'wordpiece'" "$cf" tokenizer encode --kind wordpiece x
expect_fail 2 "needs a vocabulary file" "$cf" tokenizer encode --kind hf x
expect_fail 2 "cannot open" "$cf" tokenizer encode --kind hf --vocab "$tmp/none.json" x
expect_fail 1 "token 99999 at 0 is not in the vocabulary" "$cf" tokenizer decode --kind hf --vocab "$fx/gpt2.tokenizer.json" 99999
expect_fail 2 "give TEXT or --file" "$cf" tokenizer encode --kind byte
printf '{"model": {"type": "Unigram"}}' > "$tmp/uni.json"
expect_fail 2 "uni.json: model.type: only BPE is read: Unigram" "$cf" tokenizer encode --kind hf --vocab "$tmp/uni.json" x

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
