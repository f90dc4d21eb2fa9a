class AddPaymentState < ActiveRecord::Migration[7.1]
  disable_ddl_transaction!

  def up
    execute "SET lock_timeout = '5s'"
    execute <<~SQL
      ALTER TABLE orders ADD COLUMN payment_state text;
    SQL
    execute <<~SQL.squish
      CREATE INDEX CONCURRENTLY index_orders_on_payment_state ON orders (payment_state)
    SQL
    execute "UPDATE orders SET payment_state = 'paid' WHERE total > #{PAID_THRESHOLD}"
  end

  def down
    execute "DROP INDEX index_orders_on_payment_state"
    remove_column :orders, :payment_state
  end
end
