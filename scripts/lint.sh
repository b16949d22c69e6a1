#!/bin/sh
# scripts/lint.sh [ROOT] — the checks a compiler does not make, over the tree
# at ROOT (default: this checkout):
#   1. the layer rule of docs/architecture.md: a file in src/<layer>/ includes
#      only from its own layer and the layers below it, by a path that names
#      the folder ("engine/picker.h"), and only the outside libraries its
#      layer may touch; cli/ uses the public API (shoal.h) and nothing in src/;
#      and every file's opening comment names its layer ("Engine layer");
#   2. libc calls that invite overflows or silent failures are banned;
#   3. raw heap allocation happens only in the one wrapper (src/base/alloc.c).
# Prints each offending line as FILE:LINE: text, then a reason; exits 1 when
# anything was found.
set -eu
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"
status=0

# Layers, lowest first. A layer may include itself and any layer before it.
LAYERS="base codec engine session server"
# Outside libraries a layer must not include (the ones above may).
forbidden_libs() {
    case $1 in
    base | codec | engine) echo 'event2/|curl/|sqlite3\.h|jansson\.h' ;;
    *) echo '' ;;
    esac
}

below_or_same() { # below_or_same LAYER -> the layers LAYER may include
    out=""
    for l in $LAYERS; do
        out="$out $l"
        [ "$l" = "$1" ] && break
    done
    echo "$out"
}

for dir in src/*/; do
    layer=$(basename "$dir")
    case " $LAYERS " in
    *" $layer "*) ;;
    *)
        echo "$dir: not a layer folder (the layers are: $LAYERS)" >&2
        status=1
        continue
        ;;
    esac
    allowed=$(below_or_same "$layer")
    libs=$(forbidden_libs "$layer")
    word="$(echo "$layer" | cut -c1 | tr a-z A-Z)$(echo "$layer" | cut -c2-) layer"
    for f in $(find "$dir" -name '*.[ch]' | sort); do
        # The opening comment says which layer the file is in, in the words
        # of docs/architecture.md (a comment may wrap between the two words).
        if ! head -n 30 "$f" | sed 's/^[[:space:]]*\*[[:space:]]*//' | tr '\n' ' ' |
            grep -q "$word"; then
            echo "$f: the opening comment does not say \"$word\"" >&2
            status=1
        fi
        # Quoted includes: the public header, or a folder this layer may use.
        grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
            path=$(echo "$line" | sed 's/.*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/')
            [ "$path" = "shoal.h" ] && continue
            folder=${path%%/*}
            if [ "$folder" = "$path" ]; then
                echo "$f:$line" >&2
                echo "lint: include names no layer folder (write \"$layer/$path\" or the folder it is in)" >&2
                echo fail
                continue
            fi
            case " $allowed " in
            *" $folder "*) ;;
            *)
                echo "$f:$line" >&2
                echo "lint: $layer/ may not include from $folder/ (layers point down: $LAYERS)" >&2
                echo fail
                ;;
            esac
        done | grep -c fail >/dev/null && status=1
        # Angle brackets are for system and outside libraries: a layer folder
        # reached that way would slip past the rule above.
        if grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*<($(echo $LAYERS | tr ' ' '|'))/" "$f" >&2; then
            echo "lint: $f: include a layer folder with quotes (\"$layer/...\"), so the layer rule sees it" >&2
            status=1
        fi
        if [ -n "$libs" ] && grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*<($libs)" "$f" >&2; then
            echo "lint: $f: $layer/ does no I/O through event loops, HTTP, databases or JSON" >&2
            status=1
        fi
    done
done

for f in $(find cli -name '*.[ch]' | sort); do
    if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(base|codec|engine|session|server)/' "$f" >&2; then
        echo "lint: $f: the command line uses only the public API (shoal.h)" >&2
        status=1
    fi
done

lib_sources=$(find src -name '*.[ch]' | sort)
cli_sources=$(find cli -name '*.[ch]' | sort)
banned='\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|strtok)\s*\('
# shellcheck disable=SC2086
if grep -nE "$banned" $lib_sources $cli_sources; then
    echo "lint: banned function (use snprintf, memcpy with a length, strtol/parse_u64)" >&2
    status=1
fi
raw='\b(malloc|calloc|realloc|free|strdup|strndup)\s*\('
# shellcheck disable=SC2086
if grep -nE "$raw" $lib_sources | grep -v '^src/base/alloc\.c:'; then
    echo "lint: raw allocation outside src/base/alloc.c (use xmalloc/xfree)" >&2
    status=1
fi
[ $status = 0 ] && echo "lint: ok"
exit $status
