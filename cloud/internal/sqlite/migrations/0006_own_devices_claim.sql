-- OWN_DEVICES_CLAIM (catalogue index 62, issue 11): claiming a static-token
-- device into one's own org is on by default for the three built-in
-- roles, so every org's Admin, Staff and User get the new bit. Custom
-- roles start without it, as they start without every key.
UPDATE role_perms SET bits = bits | 4611686018427387904 WHERE role_id IN (1, 2, 3);
