"""Secrets at rest: where the key lives, and authenticated encryption of key tables and the contract table."""

from anon_pipeline.secrets.atomic import atomic_target, atomic_write_bytes, remove_stale_temporaries
from anon_pipeline.secrets.crypto import (ENCRYPTED_SUFFIX, TamperedError, WrongKeyError, decrypt_bytes,
                                          decrypt_table, encrypt_bytes, encrypt_table, read_encrypted_table,
                                          write_encrypted_table)
from anon_pipeline.secrets.keys import (KEY_ENV, KEY_FILE_ENV, KeyFileExists, KeyInfo, SecretsError,
                                        default_key_path, encryption_key, generate_key_file, key_id, read_key_file,
                                        resolve_key)
from anon_pipeline.secrets.signing import SignatureError, check_signature, sign

__all__ = ["ENCRYPTED_SUFFIX", "KEY_ENV", "KEY_FILE_ENV", "KeyFileExists", "KeyInfo", "SecretsError",
           "SignatureError", "TamperedError", "WrongKeyError", "atomic_target", "atomic_write_bytes", "check_signature",
           "decrypt_bytes", "decrypt_table", "default_key_path", "encrypt_bytes", "encrypt_table", "encryption_key",
           "generate_key_file", "key_id", "read_encrypted_table", "read_key_file", "remove_stale_temporaries",
           "resolve_key", "sign", "write_encrypted_table"]
