-- Which payload fields each stream has been seen to carry (schema drift reports).
CREATE TABLE stream_fields (
    connector TEXT    NOT NULL,
    stream    TEXT    NOT NULL,
    field     TEXT    NOT NULL,
    first_run INTEGER NOT NULL,
    last_run  INTEGER NOT NULL,
    PRIMARY KEY (connector, stream, field)
) STRICT;
