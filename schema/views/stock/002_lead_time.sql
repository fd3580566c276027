-- views/stock/002_lead_time.sql - the SKU's lead time from SkuCreated version 2 (days, 0: unknown).
ALTER TABLE stock_skus ADD COLUMN lead_time_days INTEGER NOT NULL DEFAULT 0;
