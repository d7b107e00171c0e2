// Which organisation holds which image reference (migration 010). The runner's store is one
// cache per host; a row here is what lets an organisation list, use and remove a reference.
export interface OrgImagesTable {
  org_id: string;
  ref: string;
  /** The digest the organisation's last pull or import got; null for rows the upgrade attributed. */
  digest: string | null;
  created_at: string;
}

export interface OrgImagesSchema {
  org_images: OrgImagesTable;
}
