#!/bin/sh
# The image's entrypoint. No arguments: `voxnote run` (the bot). A voxnote subcommand or option runs
# voxnote with it (`docker run IMAGE serve`, `... transcribe /app/samples/voice-note.ogg`, `... --version`);
# anything else runs as a command (`docker run -it IMAGE sh`).
set -eu

# Keep in step with bot/cli.py's subcommands (tests/test_container.py compares them).
SUBCOMMANDS="run serve transcribe search discord-invite"

# A folder voxnote must write to. A bind mount owned by root is the usual cause, and sqlite's own message
# ("unable to open database file") does not say what to do about it.
need_writable() {
    dir=$1
    variable=$2
    if mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; then
        return 0
    fi
    echo "error: $dir ($variable) is not writable by uid $(id -u): give the mounted folder to that user" \
         "(on the host: chown -R $(id -u) <folder>) or mount a named volume (-v voxnote:/data)" >&2
    exit 1
}

if [ $# -eq 0 ]; then
    set -- run
fi

case " $SUBCOMMANDS " in
    *" $1 "*) ;;
    *)
        case "$1" in
            -*) ;;
            *) exec "$@" ;;
        esac
        ;;
esac

case "$1" in
    run)
        # With a database URL the SQLite file is never opened, so its folder need not exist.
        if [ -z "${VOXNOTE_DATABASE_URL:-}" ] && [ "${VOXNOTE_DB_PATH:-}" != ":memory:" ]; then
            need_writable "$(dirname "${VOXNOTE_DB_PATH:-voxnote.db}")" VOXNOTE_DB_PATH
        fi
        need_writable "${VOXNOTE_MODEL_CACHE_DIR:-$HOME/.cache/voxnote}" VOXNOTE_MODEL_CACHE_DIR
        ;;
    serve)
        need_writable "${VOXNOTE_FILES_DIR:-voxnote-files}" VOXNOTE_FILES_DIR
        need_writable "${VOXNOTE_MODEL_CACHE_DIR:-$HOME/.cache/voxnote}" VOXNOTE_MODEL_CACHE_DIR
        ;;
esac

exec voxnote "$@"
