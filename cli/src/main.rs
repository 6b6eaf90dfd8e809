fn main() {
    println!("fraser");
}
