// Options Mosquitto 2.0/2.1 reads that Culex does not implement: refused by name with file:line
// ("not supported by Culex"), so a migrated configuration never loses a setting silently.
// plugin and auth_plugin accept only the dynamic-security plugin; other plugin_opt_* and auth_opt_*
// options are refused by prefix in mosquitto-conf.ts.

export const mosquittoOnlyOptions: ReadonlySet<string> = new Set([
  // bridges: Mosquitto 2.1's reload type and backoff names
  'bridge_reload_type', 'backoff_base', 'backoff_cap',
  // plugins and other security back ends
  'auth_plugin_deny_special_chars', 'psk_file', 'psk_hint', 'use_username_as_clientid',
  'global_plugin', 'plugin_load', 'plugin_use',
  // TLS details
  'crlfile', 'ciphers_tls1.3', 'dhparamfile', 'tls_engine', 'tls_engine_kpass_sha1', 'tls_keyform', 'require_ocsp',
  'ocsp_stapling',
  // listeners and sockets
  'bind_interface', 'websockets_log_level', 'websockets_headers_size', 'websockets_origin', 'unix_socket_path',
  'enable_proxy_protocol', 'accept_protocol_versions', 'listener_allow_anonymous', 'listener_auto_id_prefix',
  'global_max_clients', 'global_max_connections', 'http_api',
  // queues, persistence and logging details
  'allow_duplicate_messages', 'autosave_on_changes', 'check_retain_source', 'max_inflight_bytes', 'memory_limit',
  'queue_qos0_messages', 'upgrade_outgoing_qos', 'retry_interval',
  'store_clean_interval', 'clientid_prefixes', 'persistence_backend',
]);
