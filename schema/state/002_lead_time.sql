-- state/002_lead_time.sql - SkuCreated version 2 carries the SKU's lead time (days, 0: unknown). Every SKU
-- folded before it was created by a version 1 event, which has none: 0 is their value.
ALTER TABLE skus ADD COLUMN lead_time_days INTEGER NOT NULL DEFAULT 0;
