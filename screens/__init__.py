"""The screens pipeline: playlist -> slides -> player page -> live updates."""
