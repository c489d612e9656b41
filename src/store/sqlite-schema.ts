// The tables of Culex's SQLite persistence file (see sqlite.ts). A `meta` row names the format and
// its version, so a file of anything else is refused at start-up with its name.
// Version 2 keeps the sessions' outgoing entries and the messages they refer to as a log, one row
// per commit (outgoing-log.ts), where version 1 had one `outgoing` row per entry and one `messages`
// row per message; a version 1 file is converted when it is opened (sqlite-migrate.ts).

export const storeFormat = 'culex-persistence';
export const storeVersion = 2;

/** The outgoing log's table, created with the rest and by the conversion of a version 1 file. */
export const outgoingLogTable = 'CREATE TABLE outgoing_log (row INTEGER PRIMARY KEY, data BLOB NOT NULL);';

export const schema = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE retained (
  topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL, properties TEXT,
  expires_at INTEGER NOT NULL, received_at INTEGER NOT NULL, origin TEXT
);
CREATE TABLE sessions (
  client_id TEXT PRIMARY KEY, protocol_version INTEGER NOT NULL,
  expiry_interval INTEGER NOT NULL, disconnected_at INTEGER NOT NULL
);
CREATE TABLE subscriptions (
  client_id TEXT NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, no_local INTEGER NOT NULL,
  retain_as_published INTEGER NOT NULL, retain_handling INTEGER NOT NULL, subscription_id INTEGER,
  PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;
${outgoingLogTable}
CREATE TABLE incoming_qos2 (
  client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;
`;
