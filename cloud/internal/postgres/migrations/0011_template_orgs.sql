-- A template change wakes only the gateways whose view holds the template
-- (issue 16): the orgs where it is enabled and those with its devices,
-- read by template (Tx.TemplateOrgs). Both tables are keyed by org first;
-- these indexes answer "which orgs" for one template in the rows it has.
-- Neither holds n_subtree, so counting a device stays a HOT update.
CREATE INDEX template_orgs_template ON template_orgs (template_id, org_id);
CREATE INDEX org_template_counts_template ON org_template_counts (template_id, org_id);
