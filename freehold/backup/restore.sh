#!/bin/sh
# Restore a freehold backup snapshot with age and a POSIX shell, without freehold.
# usage: sh restore.sh KEY BACKUP SNAPSHOT OUT
#   KEY       the recovery kit (it is an age identity file)
#   BACKUP    the backup folder (for a cloud copy: rclone copy REMOTE:PATH BACKUP first)
#   SNAPSHOT  a name in BACKUP/snapshots without .age; the last one is the latest:
#             ls BACKUP/snapshots | tail -n 1
#   OUT       a new folder; it becomes a data folder (FREEHOLD_HOME, or sqlite3 OUT/archive.sqlite)
set -eu
umask 077
key=$1 backup=$2 snapshot=$3 out=$4
mkdir "$out"
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM
refuse() { echo "refused: $1 in the manifest — not a freehold snapshot" >&2; exit 1; }
path() { case /$1/ in *//* | */.*) refuse "file $1" ;; esac
         case $1 in *[!A-Za-z0-9._/-]*) refuse "file $1" ;; esac; }
hex() { case $1 in '' | *[!0-9a-f]*) refuse "$2" ;; esac; }
number() { case $1 in '' | *[!0-9]*) refuse "$2" ;; esac; }
mkdir "$out/.packs"
age -d -i "$key" "$backup/snapshots/$snapshot.age" | gunzip > "$out/.manifest"
target=/dev/null
while read -r kind a b c d; do
    case $kind in
        pack) hex "$a" "pack $a"; age -d -i "$key" -o "$out/.packs/$a" "$backup/packs/$a.age" ;;
        file) path "$a"; hex "$c" "file $a"; target="$out/$a"
              mkdir -p "$(dirname "$target")"; : > "$target"
              echo "$c  $a" >> "$out/.sums" ;;
        digests) target=/dev/null ;;
        chunk) hex "$a" "pack $a"; number "$b" "offset $b"; number "$c" "length $c"
               tail -c +$((b + 1)) "$out/.packs/$a" | head -c "$c" | gunzip >> "$target" ;;
    esac
done < "$out/.manifest"
(cd "$out" && sha256sum -c --quiet .sums)
rm -r "$out/.packs" "$out/.manifest" "$out/.sums"
trap - EXIT
echo "restored $snapshot into $out"
